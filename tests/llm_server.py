"""A real OpenAI-compatible chat server for the tests and benchmarks/load.py: llama.cpp's own HTTP server
(through xllamacpp) serving a GGUF model. Usage: python -m tests.llm_server MODEL.gguf PORT [SLOTS].
SLOTS (default 1) answers are written at once, each with a 4096-token context. Prints its address when ready."""

import sys
import time

import xllamacpp

slots = int(sys.argv[3]) if len(sys.argv) > 3 else 1
params = xllamacpp.CommonParams()
params.model.path = sys.argv[1]
params.port = int(sys.argv[2])
params.n_parallel = slots
params.n_ctx = 4096 * slots  # llama.cpp divides the context among the slots
params.verbosity = -1
params.ui = False
server = xllamacpp.Server(params)
print(server.listening_address, flush=True)
while True:
    time.sleep(3600)
