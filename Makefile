# dtmon: every target installs what it needs into ignored folders (.venv, .cache); run
# `make help` for the list. Versions come from versions.env, the single source of truth.
include versions.env
export

SHELL        := bash
.SHELLFLAGS  := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT         := $(abspath .)
CACHE        := $(ROOT)/.cache
BIN          := $(CACHE)/bin
UV           := $(CACHE)/bootstrap/bin/uv
PY           := $(ROOT)/.venv/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(ROOT)/.venv
export DTMON_KAFKA_LIBS := $(CACHE)/kafka-libs
export DTMON_SPARK_JARS_DIR := $(CACHE)/spark-jars
export DTMON_MINIO_BIN := $(BIN)/minio
export PATH := $(BIN):$(ROOT)/.venv/bin:$(PATH)
MVN          := mvn -q -B
ARGS         ?=

# Stamps make a second run a no-op; each depends on what it was built from.
VENV_STAMP   := $(ROOT)/.venv/.synced
KAFKA_STAMP  := $(DTMON_KAFKA_LIBS)/.stamp
SPARK_STAMP  := $(DTMON_SPARK_JARS_DIR)/.stamp
SYS_STAMP    := $(CACHE)/.system-deps

.PHONY: help setup venv kafka-jars spark-jars tools grafana-schema system-deps run kafka test lint fmt docs bench bench-cluster clean s3a-jars \
        cluster-deps cluster-binaries cluster-up images deploy cluster-down

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	@echo "==> bootstrapping uv $(UV_VERSION) into $(CACHE)/bootstrap"
	@python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "error: Python 3.11+ is required as python3 (found $$(python3 --version))" >&2; exit 1; }
	@python3 -m venv $(CACHE)/bootstrap
	@$(CACHE)/bootstrap/bin/pip install -q "uv==$(UV_VERSION)"

$(VENV_STAMP): $(UV) uv.lock pyproject.toml tools/pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)
	@echo "==> syncing the locked Python environment (.venv)"
	@$(UV) sync --frozen --all-packages
	@touch $@

venv: $(VENV_STAMP) ## create .venv from uv.lock (locked, reproducible)

$(KAFKA_STAMP): libs/devstack/pom.xml versions.env
	@command -v java >/dev/null || { echo "error: Java 17+ is required (java not on PATH)" >&2; exit 1; }
	@command -v mvn >/dev/null || { echo "error: Maven is required (mvn not on PATH)" >&2; exit 1; }
	@echo "==> resolving Apache Kafka $(KAFKA_VERSION) jars with Maven"
	@rm -rf $(DTMON_KAFKA_LIBS)
	@$(MVN) -f libs/devstack/pom.xml -Dkafka.version=$(KAFKA_VERSION) \
	  -Dscala.binary.version=$(SCALA_BINARY_VERSION) \
	  dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(DTMON_KAFKA_LIBS)
	@touch $@

kafka-jars: $(KAFKA_STAMP) ## resolve the local Kafka broker's jars (Maven)

$(SPARK_STAMP): services/processor/pom.xml versions.env
	@echo "==> resolving the Spark Kafka connector $(SPARK_VERSION) jars with Maven"
	@rm -rf $(DTMON_SPARK_JARS_DIR)
	@$(MVN) -f services/processor/pom.xml -Dspark.version=$(SPARK_VERSION) \
	  -Dscala.binary.version=$(SCALA_BINARY_VERSION) \
	  dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(DTMON_SPARK_JARS_DIR)
	@touch $@

spark-jars: $(SPARK_STAMP) ## resolve the Spark Kafka connector jars (Maven)

# The same pom with its s3a profile: what the processor image carries for s3a:// checkpoints;
# the tests run the processor against MinIO with it.
S3A_JARS  := $(CACHE)/spark-jars-s3a
S3A_STAMP := $(S3A_JARS)/.stamp
$(S3A_STAMP): services/processor/pom.xml versions.env
	@echo "==> resolving the connector + hadoop-aws $(HADOOP_VERSION) jars (s3a profile) with Maven"
	@rm -rf $(S3A_JARS)
	@$(MVN) -f services/processor/pom.xml -Ps3a -Dspark.version=$(SPARK_VERSION) \
	  -Dscala.binary.version=$(SCALA_BINARY_VERSION) -Dhadoop.version=$(HADOOP_VERSION) \
	  dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(S3A_JARS)
	@touch $@

s3a-jars: $(S3A_STAMP) ## resolve the processor image's jar set (connector + hadoop-aws)

$(BIN)/.tools-$(MINIO_VERSION)-$(HELM_VERSION)-$(KUBECONFORM_VERSION)-$(CHECKOV_VERSION): | $(UV)
	@command -v go >/dev/null || { echo "error: Go is required to build minio/helm/kubeconform (go not on PATH)" >&2; exit 1; }
	@echo "==> building minio, helm and kubeconform with go install (cached in the Go build cache)"
	@mkdir -p $(BIN)
	@GOBIN=$(BIN) go install github.com/minio/minio@$(MINIO_VERSION)
	@GOBIN=$(BIN) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	@GOBIN=$(BIN) go install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)
	@UV_TOOL_DIR=$(CACHE)/uv-tools UV_TOOL_BIN_DIR=$(BIN) $(UV) tool install --force "checkov==$(CHECKOV_VERSION)"
	@touch $@

tools: $(BIN)/.tools-$(MINIO_VERSION)-$(HELM_VERSION)-$(KUBECONFORM_VERSION)-$(CHECKOV_VERSION) ## build minio, helm, kubeconform (go install); checkov (uv tool)

# Grafana's dashboard schema (npm @grafana/schema) and TypeScript, for tests/test_dashboard_schema.py.
GRAFANA_SCHEMA := $(CACHE)/grafana-schema
$(GRAFANA_SCHEMA)/.stamp: tools/grafana-schema/package.json tools/grafana-schema/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm is required for Grafana's dashboard schema" >&2; exit 1; }
	@echo "==> installing @grafana/schema $(GRAFANA_SCHEMA_VERSION) and TypeScript with npm ci"
	@rm -rf $(GRAFANA_SCHEMA) && mkdir -p $(GRAFANA_SCHEMA)
	@cp tools/grafana-schema/package.json tools/grafana-schema/package-lock.json $(GRAFANA_SCHEMA)/
	@cd $(GRAFANA_SCHEMA) && npm ci -s --ignore-scripts --no-audit --no-fund
	@touch $@

grafana-schema: $(GRAFANA_SCHEMA)/.stamp ## install Grafana's published dashboard schema (npm) to check the dashboard

$(SYS_STAMP):
	@if ! command -v chromium >/dev/null || ! command -v prometheus >/dev/null; then \
	  echo "==> installing Debian packages: chromium prometheus"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || echo sudo ); \
	  $$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive \
	    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium prometheus >/dev/null; \
	fi
	@mkdir -p $(CACHE) && touch $@

system-deps: $(SYS_STAMP) ## install Debian's chromium and prometheus (browser and scrape tests)

# --- the local single-node Kubernetes (k8s/cluster): real control plane, containerd, images
CLUSTER_PKGS := containerd runc containernetworking-plugins mmdebstrap buildah iptables ipset conntrack uidmap gcc libc6-dev
CLUSTER_DEPS_STAMP := $(CACHE)/.cluster-deps
$(CLUSTER_DEPS_STAMP):
	@if ! dpkg -s $(CLUSTER_PKGS) >/dev/null 2>&1; then \
	  echo "==> installing Debian packages: $(CLUSTER_PKGS)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || echo sudo ); \
	  $$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive \
	    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $(CLUSTER_PKGS) >/dev/null; \
	fi
	@mkdir -p $(CACHE) && touch $@

cluster-deps: $(CLUSTER_DEPS_STAMP) ## install the Debian packages the local cluster needs (containerd, buildah, ...)

cluster-binaries: ## build Kubernetes, etcd and CoreDNS from the Go module proxy (cached)
	@bash k8s/cluster/build-binaries.sh

cluster-up: cluster-deps cluster-binaries tools ## start the local single-node cluster; KUBECONFIG=.cache/cluster/kubeconfig
	@bash k8s/cluster/up.sh

images: cluster-deps cluster-binaries tools venv kafka-jars s3a-jars ## build the images with buildah; load them into a running cluster
	@bash k8s/cluster/images.sh build

deploy: ## install the chart on the local cluster (namespace dtmon, Pod Security enforced) and wait for batches
	@bash k8s/cluster/deploy.sh

cluster-down: ## stop the local cluster; leaves no process, mount, namespace or rule behind
	@bash k8s/cluster/down.sh

setup: venv kafka-jars spark-jars ## everything `make run` needs

kafka: venv kafka-jars ## start only the local Kafka broker (Ctrl-C stops it)
	@dtmon-kafka $(ARGS)

run: setup ## start the whole pipeline locally (ARGS="--help" for options)
	@dtmon up $(ARGS)

test: setup s3a-jars tools grafana-schema system-deps cluster-deps images ## run every test: unit, integration, browser, chart, end-to-end, cluster
	@ruff check . && ruff format --check .
	@pytest $(ARGS)

lint: venv ## ruff lint and format check
	@ruff check . && ruff format --check .

docs: venv ## regenerate the option tables of the READMEs from the options declarations
	@python -m dtmon_tools.config_docs --write

fmt: venv ## apply ruff fixes and formatting
	@ruff check --fix . && ruff format .

bench: setup tools ## run the benchmarks; table on stdout, JSON in .cache/bench/
	@mkdir -p $(CACHE)/bench
	@for b in $(filter-out bench/bench_cluster_%,$(sort $(wildcard bench/bench_*.py))); do \
	  echo "==> $$b"; python $$b --json $(CACHE)/bench/$$(basename $$b .py).json; done

bench-cluster: venv tools ## processor drain rate vs Spark executors on the local cluster (needs `make cluster-up images deploy`)
	@mkdir -p $(CACHE)/bench
	@python bench/bench_cluster_scaling.py --json $(CACHE)/bench/bench_cluster_scaling.json $(ARGS)

clean: ## remove every installed or generated file (.venv, .cache)
	rm -rf .venv .cache artifacts
