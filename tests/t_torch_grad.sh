#!/bin/sh
# Backward pass against an outside reference: tests/torch_ref.py grad (Debian's python3-torch,
# autograd in float64) rebuilds the losses from the same safetensors file and the case
# descriptions written by tests/tool_grad_cases.c: soft prompts first and last with the label
# cross-entropy, the next-token loss over the prompt and their sum (d loss / d input vectors),
# and a full-weights next-token case (every parameter tensor). Relative error <= 1e-3 per tensor
# (max|c - ref| / max|ref|) on two random checkpoints: a tiny "hot" one, where mistakes show,
# and a small one at GPT-2's own init scale.
# Env from tests/run.sh: ROOT, BUILD, BINDIR, TOKENIZER_DIR, TMP. Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"

need_built "$GPT2"
need_torch "for the PyTorch reference"

# Checkpoints of seed 12, cases of seed 9.
# weights N(0, 0.3) and noisy biases and layer norms: every part of the network matters;
# vocabulary 512, so that the 4-label loss takes the LM head's sparse path (<= V/64 nonzeros)
torch_check grad 1e-3 tiny-hot "--seed 9" --seed 12 --layers 2 --heads 4 --embd 32 --positions 64 --vocab 512 \
    --std 0.3 --test-noise 0.3
torch_check grad 1e-3 small "--seed 9" --seed 12 --layers 4 --heads 2 --embd 128 --positions 128 \
    --test-noise 0.05 # head size 64, as GPT-2's
finish "the backward pass agrees with PyTorch"
