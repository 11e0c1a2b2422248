#!/bin/sh
# Backward pass against an outside reference: tests/torch_ref.py grad (Debian's python3-torch,
# autograd in float64) rebuilds the losses from the same safetensors file and the case
# descriptions written by tests/tool_grad_cases.c: soft prompts first and last with the label
# cross-entropy, the next-token loss over the prompt and their sum (d loss / d input vectors),
# and a full-weights next-token case (every parameter tensor). Relative error <= 1e-3 per tensor
# (max|c - ref| / max|ref|) on two random checkpoints: a tiny "hot" one, where mistakes show,
# and a small one at GPT-2's own init scale.
set -eu
PY=/usr/bin/python3
if ! $PY -c 'import torch, numpy' 2>/dev/null; then
    echo "python3-torch is not installed for $PY (.ci/run installs it)"; exit 77
fi
GPT2="$BINDIR/gpt2"
TOOL="$BUILD/tests/tool_grad_cases"

check() { # name init-args...
    name=$1; shift
    "$GPT2" init "$@" --seed 12 --tokenizer "$TOKENIZER_DIR" --out "$TMP/$name" >/dev/null
    mkdir -p "$TMP/$name.cases"
    "$TOOL" "$TMP/$name" "$TMP/$name.cases" --seed 9
    $PY tests/torch_ref.py grad --model "$TMP/$name" --cases "$TMP/$name.cases/cases.json" --tol 1e-3
    rm -rf "$TMP/$name" "$TMP/$name.cases"
}

# weights N(0, 0.3) and noisy biases and layer norms: every part of the network matters;
# vocabulary 512, so that the 4-label loss takes the LM head's sparse path (<= V/64 nonzeros)
check tiny-hot --layers 2 --heads 4 --embd 32 --positions 64 --vocab 512 --std 0.3 --test-noise 0.3
check small --layers 4 --heads 2 --embd 128 --positions 128 --test-noise 0.05   # head size 64, as GPT-2's
