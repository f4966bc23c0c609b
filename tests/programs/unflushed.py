#!/usr/bin/env python3
"""A correct backward that prints its answers without flushing: standard output goes through a
1 MiB buffer, so no answer reaches the verifier until the program exits.

Expected: the first request gets no answer: `no_answer`, with the flush idioms.
"""
import sys

from backprop import Backprop, serve

if __name__ == "__main__":
    sys.stdout = open(1, "w", buffering=1 << 20)
    serve(Backprop(), flush=False)
