"""Summarises a Schemathesis NDJSON report against the OpenAPI document: cases generated, the
statuses each documented operation answered, which operations that need credentials were reached
with them (answered something other than 401 to a request that carried them), and the failed
checks. Requests with methods the document does not give a path (Schemathesis's unsupported-
method probes) are counted apart.

Usage: python3 .ci/schemathesis_summary.py openapi.yaml REPORT.ndjson   (needs PyYAML)
"""

import collections
import json
import sys

import yaml

CREDENTIAL_HEADERS = ("authorization", "x-conformance-token")
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def operations(document):
    """(method, path template) -> whether it needs a credential."""
    with open(document, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    out = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                out[(method.upper(), path)] = bool(op.get("security", doc.get("security", [])))
    return out


def template(method, path, known):
    parts = path.strip("/").split("/")
    for (m, pattern) in known:
        want = pattern.strip("/").split("/")
        if m == method and len(want) == len(parts) and all(
                w.startswith("{") or p == w for p, w in zip(parts, want)):
            return (m, pattern)
    return None


def main(document, path):
    known = operations(document)
    statuses = collections.defaultdict(collections.Counter)
    reached = set()
    other_methods = collections.Counter()
    cases = 0
    failures = collections.Counter()
    with open(path, encoding="utf-8") as report:
        for line in report:
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished or finished.get("status") == "skip":
                continue
            recorder = finished["recorder"]
            cases += len(recorder.get("cases", {}))
            for checks in recorder.get("checks", {}).values():
                for check in checks:
                    if check.get("status") == "failure":
                        failures[(recorder["label"], check["name"])] += 1
            for interaction in recorder.get("interactions", {}).values():
                request, response = interaction["request"], interaction.get("response")
                if response is None:
                    continue
                uri_path = request["uri"].split("/profile/v1", 1)[-1].split("?", 1)[0]
                op = template(request["method"], uri_path, known)
                status = response["status_code"]
                if op is None:
                    other_methods[status] += 1
                    continue
                statuses[op][status] += 1
                headers = {name.lower() for name in request.get("headers", {})}
                if any(h in headers for h in CREDENTIAL_HEADERS) and status != 401:
                    reached.add(op)
    secured = {op for op, needs in known.items() if needs}
    print(f"cases generated: {cases}")
    print(f"documented operations answered: {len(statuses)} of {len(known)}")
    for (method, p) in sorted(known, key=lambda o: (o[1], o[0])):
        counts = ", ".join(f"{s}×{n}" for s, n in sorted(statuses[(method, p)].items()))
        print(f"  {method} {p}: {counts or 'no request'}")
    print("undocumented methods on documented paths: "
          + ", ".join(f"{s}×{n}" for s, n in sorted(other_methods.items())))
    hit = secured & reached
    print(f"operations needing credentials reached with them (an answer other than 401): "
          f"{len(hit)} of {len(secured)}")
    for method, p in sorted(secured - hit, key=lambda o: (o[1], o[0])):
        print(f"  not reached: {method} {p}")
    print(f"failed checks: {sum(failures.values())}")
    for (op, check), n in sorted(failures.items()):
        print(f"  {op}: {check} ×{n}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
