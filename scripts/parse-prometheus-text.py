#!/usr/bin/env python3
"""Parses a Prometheus text exposition (a file, or stdin) with the reference parser of the
`prometheus_client` package and prints the families as JSON:
{"family": {"type": ..., "samples": [[name, {labels}, value], ...]}}.
Exit 0 when it parsed, 1 when it did not, 3 when prometheus_client is not installed
(scripts/install-deps.sh installs it: Debian's python3-prometheus-client)."""
import json
import math
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError as error:
    print(f"prometheus_client is not installed for {sys.executable} ({error}); run scripts/install-deps.sh", file=sys.stderr)
    sys.exit(3)

text = open(sys.argv[1], encoding="utf-8").read() if len(sys.argv) > 1 else sys.stdin.read()
try:
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = {
            "type": family.type,
            "samples": [[s.name, s.labels, None if math.isnan(s.value) else s.value] for s in family.samples],
        }
except Exception as error:  # the parser raises ValueError and friends on bad input
    print(f"not valid Prometheus text: {error!r}", file=sys.stderr)
    sys.exit(1)
json.dump(families, sys.stdout, indent=1, default=str)
print()
