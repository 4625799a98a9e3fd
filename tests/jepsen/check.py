#!/usr/bin/env python3
"""check.py - the history checker of the fault tests (tests/jepsen/README.md).

Reads the histories qjepsen wrote (one JSON object a line: an "invoke" and
then an "ok", "fail" or "info" per operation), the final read of every key
(qjepsen read, R=N, after healing and repair) and each node's own store
(qjepsen dump), and checks:

  history     every operation completed (ok, fail, or info: unknown)
  versions    every version any read or dump shows was written by an
              operation of the history, invoked before the read returned,
              with that operation's value (or a tombstone for a delete);
              no dot names two versions of a key
  contexts    a read's context covers what it returned; an acknowledged
              write's new dot is fresh and its answer's context is exactly
              its context plus that dot
  rt          (--rt: R+W>N with no stand-ins) a read's context covers every
              write acknowledged before the read began
  lost        every acknowledged write is in the final read, or was
              superseded: the final context knows its dot, and a write of
              the history had it in its context, having seen it
  stale       no version of the final read was seen, and so replaced, by an
              acknowledged write
  siblings    every two concurrent versions, in the final read and in any
              read, are real concurrency: neither writer had seen the
              other's write, directly or through writes it had seen
  converged   (--dump) every node holding a key holds the same version set,
              exactly --replicas nodes hold each key, and the final read
              returns that set
  handoff     (--holds NODE=DUMP) that node's store, dumped before any
              repair, already knew every acknowledged write of its keys

Each check prints "ok NAME: ..." or "not ok NAME: ..." and up to 20 "#"
lines of evidence; the exit status is 1 if any check failed.
"""

import argparse
import bisect
import json
import sys
from collections import defaultdict

# ---- causal contexts ----
# {actor: (max, holes)}: the dots (actor, 1..max) less the holes, a tuple of
# disjoint inclusive runs (from, to) in ascending order, as qjepsen prints
# them; .retired: the request ids the context retires (store/causal.h: a
# write with it replaces every copy of those requests, seen or not).


class CC(dict):
    retired = frozenset()

def cc_parse(j):
    out = CC()
    if j is None:
        return out
    dots = j.get("dots")
    if isinstance(dots, dict):
        out.retired = frozenset(j.get("retired", ()))
    else:
        dots = j                  # bare dots, as hand-written histories have
    for a, (m, h) in dots.items():
        out[a] = (m, tuple((x, y) for x, y in h))
    return out


def runs_have(runs, c):
    i = bisect.bisect_right(runs, (c, float("inf"))) - 1
    return i >= 0 and runs[i][0] <= c <= runs[i][1]


def runs_cover(runs, x, y):
    """Every counter from x to y is in one of the (normal) runs."""
    i = bisect.bisect_right(runs, (x, float("inf"))) - 1
    return i >= 0 and runs[i][0] <= x and y <= runs[i][1]


def cc_has(cc, dot):
    a, c = dot
    e = cc.get(a)
    return e is not None and 1 <= c <= e[0] and not runs_have(e[1], c)


def runs_normal(runs):
    out = []
    for x, y in sorted(runs):
        if x > y:
            continue
        if out and x <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], y))
        else:
            out.append((x, y))
    return tuple(out)


def cc_add(cc, dot):
    """cc plus one dot, as a new cc."""
    a, c = dot
    out = dict(cc)
    m, h = out.get(a, (0, ()))
    if c > m:
        h = runs_normal(h + ((m + 1, c - 1),))
        m = c
    else:
        rest = []
        for x, y in h:
            if x <= c <= y:
                rest += [(x, c - 1), (c + 1, y)]
            else:
                rest.append((x, y))
        h = runs_normal(rest)
    out[a] = (m, h)
    return out


def answer_context_ok(ctx, dot, octx):
    """A write's answer context is its context plus its dot, and it may
    claim more dots of its coordinator below the new one: those the
    coordinator had seen replaced (store/causal.c, delta_claim_replaced).
    So: equal to ctx + dot on every other node; on the dot's node, max is
    the dot's counter and every dot of ctx + dot is in it."""
    want = cc_add(ctx, dot)
    a, c = dot
    if not cc_equal({k: v for k, v in octx.items() if k != a},
                    {k: v for k, v in want.items() if k != a}):
        return False
    m, holes = octx.get(a, (0, ()))
    wm, wholes = want[a]
    return m == wm == c and all(runs_cover(wholes, x, y)
                                for x, y in runs_normal(holes))


def cc_equal(x, y):
    def norm(e):
        m, h = e
        return (m, runs_normal(h))
    keys = set(x) | set(y)
    return all(norm(x.get(a, (0, ()))) == norm(y.get(a, (0, ())))
               for a in keys)


def dot_parse(s):
    a, c = s.rsplit(":", 1)
    return (a, int(c))


def dot_str(d):
    return "%s:%d" % d


class Report:
    details = 20                  # lines of evidence per check

    def __init__(self):
        self.failed = 0
        self.lines = []

    def check(self, name, good, summary, details=()):
        print("%s %s: %s" % ("ok" if good else "not ok", name, summary))
        for d in list(details)[:self.details]:
            print("#   " + d)
        if len(details) > self.details:
            print("#   ... and %d more" % (len(details) - self.details))
        if not good:
            self.failed += 1


class Op:
    __slots__ = ("id", "proc", "f", "key", "value", "rid", "src", "ctx",
                 "t_inv", "t_done", "type", "dot", "octx", "found",
                 "versions", "rctx", "err")

    def __init__(self, j):
        self.id = j["op"]
        self.proc = j["proc"]
        self.f = j["f"]
        self.key = j["key"]
        self.value = j.get("value")
        self.rid = j.get("rid")
        self.src = j.get("src")
        self.ctx = cc_parse(j.get("ctx")) if self.f != "get" else None
        self.t_inv = j["t"]
        self.t_done = None
        self.type = None
        self.dot = None
        self.octx = None
        self.found = None
        self.versions = None
        self.rctx = None
        self.err = None

    def write(self):
        return self.f != "get"


def version_parse(v):
    return {"dot": dot_parse(v["dot"]), "rid": v["rid"], "tomb": v["tomb"],
            "value": v.get("value")}


def load_history(paths):
    ops = {}
    order = []
    for path in paths:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    j = json.loads(line)
                except ValueError:
                    sys.exit("check: %s:%d: not JSON" % (path, n))
                if j["ev"] == "invoke":
                    op = Op(j)
                    ops[op.id] = op
                    order.append(op)
                    continue
                op = ops[j["op"]]
                op.type = j["ev"]
                op.t_done = j["t"]
                if j["ev"] != "ok":
                    op.err = j.get("err")
                elif op.f == "get":
                    op.found = j["found"]
                    op.versions = [version_parse(v) for v in j["versions"]]
                    op.rctx = cc_parse(j["ctx"])
                else:
                    op.dot = dot_parse(j["dot"])
                    op.octx = cc_parse(j["octx"])
    order.sort(key=lambda o: o.t_inv)
    return ops, order


def load_lines(paths):
    out = []
    for path in paths:
        with open(path) as f:
            out.extend(json.loads(line) for line in f if line.strip())
    return out


class Checker:
    def __init__(self, args):
        self.args = args
        self.report = Report()
        self.ops, self.order = load_history(args.history)
        self.writes_by_rid = {o.rid: o for o in self.order if o.write()}
        self.keys = sorted({o.key for o in self.order})
        self.final = {}
        for j in load_lines(args.final or []):
            self.final[j["key"]] = j
        self.dumps = load_lines(args.dump or [])
        self.seen_direct_memo = {}
        # Every dot each write was seen under (more than one: a retry).
        self.copies = defaultdict(set)
        for o in self.order:
            if o.write() and o.type == "ok":
                self.copies[o.rid].add(o.dot)
        for where, t, key, v in self.observations():
            self.copies[v["rid"]].add(v["dot"])

    def knows(self, cc, w):
        """Does cc replace write w: hold a copy of it, or retire it?"""
        if w.rid in cc.retired:
            return True
        dots = set(self.copies[w.rid])
        if w.dot is not None:
            dots.add(w.dot)
        return any(cc_has(cc, d) for d in dots)

    # What a write's context came from: the writes it saw directly.
    def seen_direct(self, w):
        memo = self.seen_direct_memo.get(w.id)
        if memo is not None:
            return memo
        out = set()
        if w.src is not None:
            s = self.ops[w.src]
            if s.f == "get":
                for v in s.versions or ():
                    x = self.writes_by_rid.get(v["rid"])
                    if x is not None:
                        out.add(x.id)
            else:
                out.add(s.id)
        self.seen_direct_memo[w.id] = out
        return out

    def saw(self, w, a, cache):
        """Had the writer of w seen a, directly or through what it saw?"""
        key = (w.id, a.id)
        if key in cache:
            return cache[key]
        stack = [w]
        visited = {w.id}
        found = False
        while stack and not found:
            x = stack.pop()
            for y_id in self.seen_direct(x):
                if y_id == a.id:
                    found = True
                    break
                if y_id in visited:
                    continue
                visited.add(y_id)
                y = self.ops[y_id]
                if y.t_inv >= a.t_inv:
                    stack.append(y)
        cache[key] = found
        return found

    # ---- the checks ----

    def check_history(self):
        counts = defaultdict(int)
        open_ops = []
        for o in self.order:
            counts[(o.f, o.type)] += 1
            if o.type is None:
                open_ops.append(o.id)
        summary = ", ".join(
            "%s %d ok/%d failed/%d unknown" % (
                f, counts[(f, "ok")], counts[(f, "fail")],
                counts[(f, "info")]) for f in ("get", "put", "delete"))
        self.report.check(
            "history", not open_ops, "%d operations: %s" % (
                len(self.order), summary),
            ["%s never completed" % i for i in open_ops])

    def observations(self):
        """Every version seen anywhere: (where, time, key, version)."""
        for o in self.order:
            if o.f == "get" and o.type == "ok":
                for v in o.versions:
                    yield "read " + o.id, o.t_done, o.key, v
        for key, j in self.final.items():
            for v in j.get("versions", ()):
                yield "final read", None, key, version_parse(v)
        for d in self.dumps:
            for v in d["versions"]:
                yield "dump of " + d["node"], None, d["key"], \
                    version_parse(v)

    def check_versions(self):
        bad = []
        dot_rid = {}
        for o in self.order:
            if o.write() and o.type == "ok":
                dot_rid.setdefault((o.key, o.dot),
                                   (o.rid, "answer to " + o.id))
        n = 0
        for where, t, key, v in self.observations():
            n += 1
            w = self.writes_by_rid.get(v["rid"])
            if w is None:
                if key in self.keys or not self.args.allow_foreign:
                    bad.append("%s: %s holds %s (rid %d) that no operation"
                               " wrote" % (where, key, dot_str(v["dot"]),
                                           v["rid"]))
                continue
            if w.key != key:
                bad.append("%s: %s holds %s of %s, a write of %s" % (
                    where, key, dot_str(v["dot"]), w.id, w.key))
            if (w.f == "delete") != v["tomb"] or (
                    w.f == "put" and v["value"] != w.value):
                bad.append("%s: %s %s is %r, but %s wrote %r" % (
                    where, key, dot_str(v["dot"]),
                    "tombstone" if v["tomb"] else v["value"], w.id,
                    "tombstone" if w.f == "delete" else w.value))
            if t is not None and w.t_inv > t:
                bad.append("%s returned %s, invoked after it returned" % (
                    where, w.id))
            prev = dot_rid.setdefault((key, v["dot"]), (v["rid"], where))
            if prev[0] != v["rid"]:
                bad.append("%s: dot %s names two versions: rid %d (%s) and "
                           "rid %d (%s)" % (key, dot_str(v["dot"]), prev[0],
                                            prev[1], v["rid"], where))
        self.report.check("versions", not bad, "%d versions seen, each "
                          "written by its operation" % n, bad)

    def check_contexts(self):
        bad = []
        for o in self.order:
            if o.type != "ok":
                continue
            if o.f == "get":
                for v in o.versions:
                    if not cc_has(o.rctx, v["dot"]):
                        bad.append("read %s returned %s outside its context"
                                   % (o.id, dot_str(v["dot"])))
            else:
                if cc_has(o.ctx, o.dot):
                    bad.append("write %s got dot %s, already in its context"
                               % (o.id, dot_str(o.dot)))
                if not answer_context_ok(o.ctx, o.dot, o.octx):
                    bad.append("write %s: answer context %r is not its "
                               "context %r plus %s (and replaced dots of "
                               "%s below it)" % (
                                   o.id, o.octx, o.ctx, dot_str(o.dot),
                                   o.dot[0]))
        self.report.check("contexts", not bad, "contexts of reads and "
                          "acknowledged writes consistent", bad)

    def check_rt(self):
        """A read sees every write acknowledged before it began."""
        bad = []
        nreads = 0
        for key in self.keys:
            acked = sorted((o for o in self.order if o.key == key and
                            o.write() and o.type == "ok"),
                           key=lambda o: o.t_done)
            reads = [o for o in self.order if o.key == key and
                     o.f == "get" and o.type == "ok"]
            known = defaultdict(dict)     # actor -> counter -> op
            maxc = defaultdict(int)
            i = 0
            for r in reads:               # in invocation order
                nreads += 1
                while i < len(acked) and acked[i].t_done < r.t_inv:
                    a, c = acked[i].dot
                    known[a][c] = acked[i]
                    maxc[a] = max(maxc[a], c)
                    i += 1
                for a, m in maxc.items():
                    e = r.rctx.get(a, (0, ()))
                    if m <= e[0] and not e[1]:
                        continue
                    missing = [c for c in known[a]
                               if (c > e[0] or runs_have(e[1], c)) and
                               not self.knows(r.rctx, known[a][c])]
                    for c in sorted(missing)[:3]:
                        w = known[a][c]
                        bad.append("read %s of %s (invoked %.3f) missed %s "
                                   "(%s, acknowledged %.3f)" % (
                                       r.id, key, r.t_inv, w.id,
                                       dot_str(w.dot), w.t_done))
        self.report.check("rt", not bad, "%d reads saw every write "
                          "acknowledged before they began" % nreads, bad)

    def final_versions(self, key):
        j = self.final.get(key)
        if j is None or "versions" not in j:
            return None, None
        return [version_parse(v) for v in j["versions"]], cc_parse(j["ctx"])

    def check_final_read(self):
        bad = []
        for key in self.keys:
            j = self.final.get(key)
            if j is None:
                bad.append("%s: not read at the end" % key)
            elif "code" in j:
                bad.append("%s: final read failed: %s" % (key, j["err"]))
        self.report.check("final-read", not bad, "%d keys read with R=N "
                          "at the end" % len(self.keys), bad)

    def check_lost(self):
        bad = []
        # Who saw each write: the writes whose context came from a read
        # that returned it, or from its own answer.
        seen_by = defaultdict(list)
        for o in self.order:
            if o.write():
                for x in self.seen_direct(o):
                    seen_by[x].append(o)
        present = superseded = superseded_unacked = 0
        for o in self.order:
            if not (o.write() and o.type == "ok"):
                continue
            versions, fcc = self.final_versions(o.key)
            if versions is None:
                continue                  # reported by final-read
            if any(v["rid"] == o.rid for v in versions):
                present += 1
                continue
            why = []
            if versions and not self.knows(fcc, o):
                why.append("the final context does not know %s" %
                           dot_str(o.dot))
            seers = seen_by.get(o.id, [])
            if not seers:
                why.append("no writer had seen it")
            elif not any(self.knows(s.ctx, o) for s in seers):
                why.append("the writers that had seen it (%s) had not %s "
                           "in their contexts" % (
                               " ".join(s.id for s in seers[:5]),
                               dot_str(o.dot)))
            if why:
                bad.append("%s %s of %s (%s, acknowledged %.3f as %s) is "
                           "gone: %s" % (o.f, o.id, o.key,
                                         o.value or "tombstone", o.t_done,
                                         dot_str(o.dot), "; ".join(why)))
            elif any(s.type == "ok" for s in seers):
                superseded += 1
            else:
                superseded_unacked += 1
        self.report.check(
            "lost", not bad, "of the acknowledged writes, %d are in the "
            "final read, %d superseded by acknowledged writes, %d by "
            "writes of unknown outcome" % (present, superseded,
                                           superseded_unacked), bad)

    def check_stale(self):
        bad = []
        seen_by = defaultdict(list)
        for o in self.order:
            if o.write() and o.type == "ok":
                for x in self.seen_direct(o):
                    seen_by[x].append(o)
        for key in self.keys:
            versions, _ = self.final_versions(key)
            for v in versions or ():
                w = self.writes_by_rid.get(v["rid"])
                if w is None:
                    continue
                for s in seen_by.get(w.id, ()):
                    if s.key != key:
                        continue
                    how = ("its context held %s" % dot_str(v["dot"])
                           if cc_has(s.ctx, v["dot"]) else
                           "%s is another copy of %s (a retry), not in its "
                           "context" % (dot_str(v["dot"]), w.id))
                    bad.append("%s: %s (%s) is in the final read, but "
                               "acknowledged %s %s had seen it: %s" % (
                                   key, w.id, dot_str(v["dot"]), s.f, s.id,
                                   how))
        self.report.check("stale", not bad, "no acknowledged write's "
                          "predecessor survives", bad)

    def sibling_pairs(self, key, versions, where, cache, bad):
        ws = []
        dots = defaultdict(list)
        for v in versions:
            w = self.writes_by_rid.get(v["rid"])
            if w is None:
                continue
            dots[w.id].append(v["dot"])
            if w not in ws:
                ws.append(w)
        pairs = 0
        for i in range(len(ws)):
            for k in range(i + 1, len(ws)):
                a, b = ws[i], ws[k]
                pairs += 1
                for x, y in ((a, b), (b, a)):
                    if not self.saw(x, y, cache):
                        continue
                    d = dots[y.id]
                    how = ""
                    if not any(cc_has(x.ctx, e) for e in d):
                        others = sorted(self.copies[y.rid] - set(d))
                        how = (" (%s saw a copy of %s that is not this one: "
                               "%s here is not in its context; %s was "
                               "applied as %s, a request applied more than "
                               "once, by a retry)" % (
                                   x.id, y.id, " ".join(map(dot_str, d)),
                                   y.id, " ".join(map(dot_str, sorted(
                                       set(d) | set(others))))))
                    bad.append("%s: %s holds siblings %s and %s, but %s had "
                               "seen %s%s" % (where, key, x.id, y.id, x.id,
                                              y.id, how))
        return pairs

    def check_siblings(self):
        bad = []
        cache = {}
        fkeys = fpairs = 0
        for key in self.keys:
            versions, _ = self.final_versions(key)
            if versions and len(versions) > 1:
                fkeys += 1
                fpairs += self.sibling_pairs(key, versions, "final read",
                                             cache, bad)
        rreads = rpairs = 0
        for o in self.order:
            if o.f == "get" and o.type == "ok" and len(o.versions) > 1:
                rreads += 1
                rpairs += self.sibling_pairs(o.key, o.versions,
                                             "read " + o.id, cache, bad)
        self.report.check(
            "siblings", not bad, "final read: %d keys with siblings (%d "
            "pairs); during the run: %d reads with siblings (%d pairs); %s"
            % (fkeys, fpairs, rreads, rpairs,
               "all of concurrent writes" if not bad else
               "%d pairs of writes where one had seen the other" % len(bad)),
            bad)

    def check_converged(self):
        bad = []
        by_key = defaultdict(dict)
        for d in self.dumps:
            by_key[d["key"]][d["node"]] = d
        nodes = sorted({d["node"] for d in self.dumps} |
                       set(self.args.dump_nodes or ()))
        for key, copies in sorted(by_key.items()):
            if len(copies) != self.args.replicas:
                bad.append("%s is held by %d nodes (%s), not %d" % (
                    key, len(copies), " ".join(sorted(copies)),
                    self.args.replicas))
            states = {}
            for node, d in copies.items():
                s = (json.dumps(d["versions"], sort_keys=True),
                     json.dumps(d["cc"], sort_keys=True))
                states.setdefault(s, []).append(node)
            if len(states) > 1:
                bad.append("%s differs between nodes: %s" % (key, "; ".join(
                    "%s: %s %s" % (",".join(n), s[0], s[1])
                    for s, n in states.items())))
            f = self.final.get(key)
            any_copy = next(iter(copies.values()))
            if f is not None and "versions" in f:
                want = {v["rid"] for v in any_copy["versions"]}
                got = {v["rid"] for v in f["versions"]}
                if want != got:
                    bad.append("%s: the final read returned rids %s, the "
                               "stores hold %s" % (key, sorted(got),
                                                   sorted(want)))
        for key in self.keys:
            f = self.final.get(key)
            if f is not None and f.get("found") and key not in by_key:
                bad.append("%s: read at the end, but in no node's store" %
                           key)
        self.report.check("converged", not bad, "%d keys on %d nodes, %d "
                          "copies each, all equal" % (
                              len(by_key), len(nodes), self.args.replicas),
                          bad)

    def check_handoff(self):
        bad = []
        holders = defaultdict(set)
        for d in self.dumps:
            holders[d["key"]].add(d["node"])
        for spec in self.args.holds:
            node, path = spec.split("=", 1)
            early = {d["key"]: cc_parse(d["cc"]) for d in load_lines([path])}
            n = 0
            for o in self.order:
                if not (o.write() and o.type == "ok"):
                    continue
                if node not in holders.get(o.key, ()):
                    continue
                n += 1
                if not cc_has(early.get(o.key, {}), o.dot):
                    bad.append("%s did not know %s %s of %s (%s) before "
                               "repair" % (node, o.f, o.id, o.key,
                                           dot_str(o.dot)))
            self.report.check("handoff", not bad, "%s knew all %d "
                              "acknowledged writes of its keys before any "
                              "repair" % (node, n), bad)

    def run(self):
        self.check_history()
        self.check_versions()
        self.check_contexts()
        if self.args.rt:
            self.check_rt()
        if self.args.final is not None:
            self.check_final_read()
            self.check_lost()
            self.check_stale()
        self.check_siblings()
        if self.args.dump is not None:
            self.check_converged()
        if self.args.holds:
            self.check_handoff()
        if self.args.nemesis:
            counts = defaultdict(int)
            for path in self.args.nemesis:
                with open(path) as f:
                    for line in f:
                        w = line.split()
                        if len(w) >= 2:
                            counts[w[1]] += 1
            print("# faults: %d (%s)" % (sum(counts.values()), ", ".join(
                "%s %d" % kv for kv in sorted(counts.items()))))
        return 1 if self.report.failed else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--history", action="append", required=True,
                   help="a history qjepsen wrote (repeatable)")
    p.add_argument("--final", action="append",
                   help="qjepsen read of every key at the end")
    p.add_argument("--dump", action="append",
                   help="qjepsen dump of a node at the end (repeatable)")
    p.add_argument("--dump-nodes", action="append",
                   help="a node that was dumped (even if it holds nothing)")
    p.add_argument("--replicas", type=int, default=3,
                   help="nodes that hold each key (N)")
    p.add_argument("--rt", action="store_true",
                   help="check that reads see writes acknowledged before")
    p.add_argument("--holds", action="append", default=[],
                   help="NODE=DUMP: that node knew every acknowledged write "
                   "of its keys when DUMP was taken")
    p.add_argument("--allow-foreign", action="store_true",
                   help="versions of keys outside the history may come "
                   "from elsewhere")
    p.add_argument("--nemesis", action="append",
                   help="the nemesis log: count its faults")
    p.add_argument("--details", type=int, default=Report.details,
                   help="lines of evidence per check (default %d)" %
                   Report.details)
    p.add_argument("--list-keys", action="store_true",
                   help="print the keys of the history and stop")
    args = p.parse_args()
    if args.list_keys:
        ops, order = load_history(args.history)
        for k in sorted({o.key for o in order}):
            print(k)
        return 0
    Report.details = args.details
    return Checker(args).run()


if __name__ == "__main__":
    sys.exit(main())
