"""jit-to-aot.py JITLIST NM: the native AOT symbols of the methods a JIT run compiled, in its order.

JITLIST is the runtime's JitDisasmSummary output (lines "N: JIT compiled Ns.Type[args]:Method(sig) [...]"),
NM the `nm -S` listing of the native executable's debug symbols. The compiler's symbol for a method is
its assembly's prefix, then namespace, type and method with every character outside [A-Za-z0-9]
replaced, and generic arguments in <...>; a JIT name matches every native symbol whose name, generic
arguments left out, ends with it. A shared generic method (__Canon) so matches each of its native
instantiations: more than the daemon runs, never less of what the JIT saw. Inlined methods have no
symbol of their own and match nothing.
"""
import re
import sys


def without_generics(text, opening, closing):
    out, depth = [], 0
    for ch in text:
        if ch == opening:
            depth += 1
        elif ch == closing:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def sanitized(text):
    return re.sub(r"[^A-Za-z0-9]", "_", text)


def main(jit_list, nm_listing):
    by_method = {}
    for line in open(nm_listing):
        parts = line.split()
        if len(parts) < 4 or parts[2] not in ("t", "T"):
            continue
        name = parts[3]
        bare = without_generics(name, "<", ">")
        by_method.setdefault(bare.rsplit("__", 1)[-1], []).append((bare, name))
    seen, order, unmatched = set(), [], 0
    for line in open(jit_list):
        m = re.match(r"\s*\d+: JIT compiled (.*) \[", line)
        if not m:
            continue
        full = m.group(1)
        full = full[: full.index("(")] if "(" in full else full
        bare = without_generics(full, "[", "]")
        if ":" not in bare:
            continue
        type_name, method = bare.rsplit(":", 1)
        key = sanitized(type_name) + "__" + sanitized(method)
        hits = [name for b, name in by_method.get(key.rsplit("__", 1)[-1], []) if b == key or b.endswith("_" + key)]
        unmatched += not hits
        for name in hits:
            if name not in seen:
                seen.add(name)
                order.append(name)
    print("\n".join(order))
    print(f"jit-to-aot: {len(order)} symbols; {unmatched} compiled methods matched none (inlined in the native build)", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
