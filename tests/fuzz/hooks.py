"""schemathesis hooks for scripts/fuzz: individual numbers in every disguise a person or an
input method produces, put into the string fields of generated bodies, and a check that no
request carrying one is accepted (2xx). A new field that forgets the guard fails the run.

The disguises follow src/text.rs: digits in ASCII, full width and kanji numerals; groups of
four (or none) separated by hyphens and dashes of every width, the prolonged sound mark ー and
its half-width ｰ, wave dashes, spaces of both widths, dots; combining marks after digits; the
number alone or inside ordinary Japanese text.
"""

import re

import schemathesis
from hypothesis import strategies as st

# Fields whose value is never stored, mailed, logged or shown as typed: a password is hashed,
# a code is compared, a token is looked up.
NOT_KEPT = {"password", "current_password", "new_password", "totp", "token"}

KANJI = "〇一二三四五六七八九"
FULL = "０１２３４５６７８９"
SEPARATORS = ["-", "‐", "－", "ー", "ｰ", "〜", "～", " ", "　", ".", "・", ""]
COMBINING = ["", "", "", "\u0301", "\u20e3"]
AROUND = [("{}", ""), ("マイナンバーは{}です", ""), ("番号 {} をお願いします", ""), ("メモ:{}", "")]

# What the hooks put into bodies; the check looks for these.
INSERTED = set()


def check_digit(first11):
    """The individual number's check digit (the My Number Act's formula)."""
    total = 0
    for n in range(1, 12):
        p = int(first11[11 - n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    r = total % 11
    return 0 if r <= 1 else 11 - r


@st.composite
def disguised_number(draw):
    first11 = "".join(str(draw(st.integers(0, 9))) for _ in range(11))
    digits = first11 + str(check_digit(first11))
    script = draw(st.sampled_from(["ascii", "full", "kanji", "mixed"]))
    sep = draw(st.sampled_from(SEPARATORS))
    mark = draw(st.sampled_from(COMBINING))
    out = []
    for i, d in enumerate(digits):
        s = script if script != "mixed" else draw(st.sampled_from(["ascii", "full", "kanji"]))
        c = {"ascii": d, "full": FULL[int(d)], "kanji": KANJI[int(d)]}[s]
        out.append(c + mark)
        if i in (3, 7):
            out.append(sep)
    around = draw(st.sampled_from(AROUND))[0]
    return around.format("".join(out))


FIELD = re.compile(r"^[a-z][a-z_]*$")

_DECLARED = {}


def declared_fields(operation):
    """Every property name the OpenAPI document declares (anywhere): the API's own fields. A
    key the generator made up (`k`, `abc`) is ignored by the service, so a number there is not
    kept; a snake_case look alone does not make a field (a generated `k` once passed for one)."""
    if operation is None:
        return None
    raw = operation.schema.raw_schema
    key = id(raw)
    if key not in _DECLARED:
        names = set()

        def walk(node):
            if isinstance(node, dict):
                props = node.get("properties")
                if isinstance(props, dict):
                    names.update(k for k in props if isinstance(k, str))
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(raw)
        _DECLARED[key] = names
    return _DECLARED[key]


def string_paths(value, path=(), fields=None):
    """The paths of the string leaves of a JSON body that are the API's own fields (declared
    names, snake_case: generated extra keys are ignored by the service)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and FIELD.match(k) and (fields is None or k in fields):
                yield from string_paths(v, path + (k,), fields)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from string_paths(v, path + (i,), fields)
    elif isinstance(value, str) and path and path[-1] not in NOT_KEPT:
        yield path


def replaced(body, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(body, dict):
        copy = dict(body)
        copy[head] = replaced(body[head], rest, new)
        return copy
    copy = list(body)
    copy[head] = replaced(body[head], rest, new)
    return copy


@schemathesis.hook
def flatmap_body(context, body):
    paths = list(string_paths(body, fields=declared_fields(context.operation)))
    if not paths:
        return st.just(body)

    def disguise(args):
        index, number = args
        INSERTED.add(number)
        return replaced(body, paths[index % len(paths)], number)

    return st.one_of(
        st.just(body),
        st.tuples(st.integers(0, 1000), disguised_number()).map(disguise),
    )


def carried(value, fields=None):
    return any(get(value, p) in INSERTED for p in string_paths(value, fields=fields))


def get(value, path):
    for step in path:
        value = value[step]
    return value


@schemathesis.check
def individual_number_refused(ctx, response, case):
    """A body carrying a disguised individual number in a kept field is never accepted."""
    fields = declared_fields(getattr(case, "operation", None))
    if carried(case.body, fields) and 200 <= response.status_code < 300:
        raise AssertionError(
            f"{case.method} {case.path} accepted an individual number in its body "
            f"({response.status_code})"
        )


if __name__ == "__main__":
    # A look at what is generated: python3 tests/fuzz/hooks.py
    for _ in range(12):
        print(disguised_number().example())
