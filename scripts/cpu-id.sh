#!/usr/bin/env bash
# Prints the identity of this CPU as the kernel loader compares it: model name and feature flags
# of the first processor. A native build is used only where this matches exactly.
awk -F': ' '/^model name/ && !m {m=$2} /^flags/ && !f {f=$2} END {print m; print f}' /proc/cpuinfo
