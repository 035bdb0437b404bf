# The two commands of the README: `make demo` and `make test` (and, by hand, `make bench` and `make quality`).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CORES ?= 2
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: demo test test-slurm bench quality lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --resources gpu=1
	@echo
	@echo "Tracks:       results/tracks/<variety>/<mark>.bw"
	@echo "IGV sessions: results/tracks/<variety>/igv_session.xml  (IGV: File > Open Session)"
	@echo "Models:       results/models/<mark>/ (model.pt, metrics.json; holdout/curves.png, holdout/roc_pr.png)"
	@echo "Demo check:   results/demo_evaluation.tsv"
	@ls -1 results/tracks/*/*.bw

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/snakemake --lint

test-slurm: $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,slurm]'
	bash tests/slurm/run.sh

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# by hand, not in `make test` or CI: 5-fold CV on the real sets in $(DATA) beside a 4-mer LR
DATA ?= ../shared/data
QUALITY_ARGS ?=
quality: $(STAMP)
	$(BIN)/python benchmarks/quality.py --data $(DATA) $(QUALITY_ARGS)

clean:
	rm -rf results logs .snakemake
