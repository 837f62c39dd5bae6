# SPDX-License-Identifier: GPL-2.0-or-later
#
# The two commands of the README:
#   make run     set up a fresh machine, build, run the main job
#   make check   run every test (what CI runs)

.PHONY: run check setup build export check-series kernel-check clean

run:
	./scripts/run-main

check:
	./scripts/test

setup:
	./scripts/setup

build: setup
	./scripts/build

# The patch series for upstream review, and its apply-and-build check.
export: setup
	./scripts/export-series out/series

check-series: export
	./scripts/check-series out/series

# The companion Linux KVM series: exported to out/linux-series, checkpatch,
# and built against Linux 7.2.13 after every step (W=1 C=1).
kernel-check: setup
	./scripts/kernel-check

clean:
	rm -rf .cache/qemu .cache/qemu-staging .cache/build .cache/tdxsim .cache/linux-build out
