"""A real OpenAI-compatible chat server for the tests: llama.cpp's own HTTP server (through xllamacpp)
serving a GGUF model. Usage: python -m tests.llm_server MODEL.gguf PORT. Prints its address when ready."""

import sys
import time

import xllamacpp

params = xllamacpp.CommonParams()
params.model.path = sys.argv[1]
params.port = int(sys.argv[2])
params.n_ctx = 4096
params.verbosity = -1
params.ui = False
server = xllamacpp.Server(params)
print(server.listening_address, flush=True)
while True:
    time.sleep(3600)
