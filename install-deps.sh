#!/bin/sh
# install-deps.sh: the Debian packages this project builds, runs and tests with (needs root or sudo).
#   build:   gcc make pkg-config, Open MPI 4.1, OpenBLAS, zlib, cJSON, OpenSSL's libcrypto (SHA-256), oneDNN (bf16 matmuls)
#   tests:   python3-torch + numpy (outside reference for GPT-2 numerics), node + npm (the JavaScript
#            reference tokenizer and the tokenizer files, from the npm registry), wamerican (dictionary),
#            pandas (tests/t_frontier.sh checks that pandas.read_csv reads the CSVs without options),
#            texlive-latex-base + texlive-latex-recommended (pdflatex and booktabs: t_frontier.sh
#            compiles frontier.tex)
#   slurm:   Slurm 22.05 (slurm-wlm: slurmctld, slurmd, slurm-client) and munge, slurmdbd with
#            MariaDB for sacct: tests/t_slurm_*.sh start private ones (own ports, files under
#            their scratch directory) and leave the system's services alone
set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
PKGS="build-essential pkg-config openmpi-bin libopenmpi-dev libopenblas-dev zlib1g-dev libcjson-dev libssl-dev libdnnl-dev
      python3 python3-torch python3-numpy python3-pandas wamerican curl ca-certificates
      texlive-latex-base texlive-latex-recommended
      slurm-wlm munge slurmdbd mariadb-server"
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "install-deps: installing$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
else
    echo "install-deps: all packages present"
fi
