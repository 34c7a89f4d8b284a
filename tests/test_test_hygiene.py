"""The test suite's own hygiene: assertions that can fail, paths that hold on any checkout and any number of
runs side by side, and skips that say why.

Each check parses the files with `ast` (nothing is imported or run) and names every offence as
`file:line: what`, so a failure says where to look. The rules are narrow on purpose: each flags only a
shape that can never fail, checks less than it reads, or passes without running, so a sound suite gives
no false alarms.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# Calls whose result is a non-empty string whatever their argument.
NON_EMPTY_CALLS = {"json.dumps", "repr", "ascii"}
# Exceptions that, caught around an assert and not raised again, swallow its failure.
SWALLOWING = {"AssertionError", "Exception", "BaseException", "(bare except)"}
# The machine's shared scratch folders: runs side by side (and other users) write there too.
SHARED_SCRATCH = re.compile(r"^/(var/)?tmp(/|$)")


def python_files(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def parsed(*folders: Path) -> Iterator[tuple[Path, list[ast.AST]]]:
    """Each file with every node of its syntax tree."""
    for path in python_files(*(folders or (TESTS,))):
        yield path, nodes_of(path)


@functools.cache
def nodes_of(path: Path) -> list[ast.AST]:
    """A file's nodes, parsed and walked once for every check here (the checks only read them)."""
    return list(ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))))


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"


def dotted(node: ast.AST) -> str:
    """"json.dumps" for the expression json.dumps; "" for anything that is not a plain chain of names."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


# --- assertions ------------------------------------------------------------------------------------


def always_truthy(node: ast.AST) -> bool:
    """An expression that is truthy whatever the code under test does."""
    if isinstance(node, ast.Constant):
        return bool(node.value)
    if isinstance(node, ast.JoinedStr):  # an f-string with any literal text is never empty
        return any(isinstance(v, ast.Constant) and v.value for v in node.values)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return bool(node.elts)
    if isinstance(node, ast.Dict):
        return bool(node.keys)
    if isinstance(node, ast.Lambda):
        return True
    if isinstance(node, ast.Call):
        return dotted(node.func) in NON_EMPTY_CALLS
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, op, right = node.left, node.ops[0], node.comparators[0]
        if (isinstance(op, (ast.Eq, ast.Is, ast.LtE, ast.GtE)) and ast.dump(left) == ast.dump(right)
                and not any(isinstance(n, ast.Call) for n in ast.walk(left))):
            return True  # a value compared with itself (two calls may differ: that is a determinism check)
        if (isinstance(op, ast.GtE) and isinstance(left, ast.Call) and dotted(left.func) == "len"
                and isinstance(right, ast.Constant) and right.value == 0):
            return True  # len(x) >= 0
    if isinstance(node, ast.BoolOp):
        values = [always_truthy(v) for v in node.values]
        return any(values) if isinstance(node.op, ast.Or) else all(values)
    return False


def cannot_fail(test: ast.AST) -> str:
    """Why an assert's test can never be false; "" if it can."""
    if isinstance(test, ast.Tuple) and test.elts:
        return "asserts a non-empty tuple (always true): write `assert test, message`"
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        for value in test.values:
            if always_truthy(value):
                return f"`or {ast.unparse(value)}` is always true, so the assertion cannot fail"
    if always_truthy(test):
        return f"`{ast.unparse(test)}` is always true"
    return ""


def mixed_chain(test: ast.AST) -> str:
    """`not a in b == c` or `a in b == c`: Python chains these as `a in b and b == c`, rarely what was meant."""
    for node in ast.walk(test):
        if isinstance(node, ast.Compare) and len(node.ops) > 1:
            kinds = {isinstance(op, (ast.In, ast.NotIn, ast.Is, ast.IsNot)) for op in node.ops}
            if kinds == {True, False}:
                return f"`{ast.unparse(node)}` chains a membership or identity test with a comparison"
    return ""


def conditional_assert(test: ast.AST) -> str:
    """`assert a and b if c else d` is `assert (a and b) if c else d`: when c is false, a and b go unchecked."""
    if isinstance(test, ast.IfExp) and isinstance(test.body, ast.BoolOp):
        return f"the conditional takes all of `{ast.unparse(test.body)}` as its first branch: split the assert"
    return ""


def unchecked(test: ast.AST) -> str:
    """Why an assert's test checks nothing, or less than it reads; "" if it is sound."""
    return cannot_fail(test) or mixed_chain(test) or conditional_assert(test)


def swallowing_handlers(path: Path, nodes: list[ast.AST]) -> Iterator[str]:
    """Handlers that catch what a failed assert in their try block raises, and do not raise it again."""
    for node in nodes:
        if not isinstance(node, ast.Try):
            continue
        if not any(isinstance(n, ast.Assert) for stmt in node.body for n in ast.walk(stmt)):
            continue
        for handler in node.handlers:
            caught = handler.type
            names = ({dotted(e) for e in caught.elts} if isinstance(caught, ast.Tuple)
                     else {dotted(caught)} if caught else {"(bare except)"})
            reraises = any(isinstance(n, ast.Raise) for stmt in handler.body for n in ast.walk(stmt))
            if names & SWALLOWING and not reraises:
                yield f"{where(path, handler)}: `except {', '.join(sorted(names))}` swallows the asserts above it"


def early_returns(path: Path, nodes: list[ast.AST]) -> Iterator[str]:
    """A `return` in a test function: it passes without checking what comes after (nested functions aside)."""
    for test in nodes:
        if not (isinstance(test, ast.FunctionDef) and test.name.startswith("test_")):
            continue
        inside = list(ast.iter_child_nodes(test))
        while inside:
            node = inside.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            if isinstance(node, ast.Return):
                yield (f"{where(path, node)}: `return` in {test.name} passes silently: "
                       f"pytest.skip(reason) or assert instead")
            inside.extend(ast.iter_child_nodes(node))


def test_every_assertion_can_fail() -> None:
    offences = []
    for path, nodes in parsed():
        for node in nodes:
            if isinstance(node, ast.Assert) and unchecked(node.test):
                offences.append(f"{where(path, node)}: {unchecked(node.test)}")
        offences.extend(swallowing_handlers(path, nodes))
        offences.extend(early_returns(path, nodes))
    assert offences == []


# --- paths -----------------------------------------------------------------------------------------


def fixed_path(text: str) -> str:
    """Why `text`, a string in a test or script, is a path that holds on one machine or for one run at a time."""
    if SHARED_SCRATCH.match(text):
        return "a shared scratch folder: use tmp_path (the `shots` fixture for screenshots) or tempfile"
    if text == str(ROOT) or text.startswith(f"{ROOT}/") or in_some_checkout(text):
        return "a checkout's absolute path: use Path(__file__).parents[...] or a fixture such as demo_model"
    return ""


def in_some_checkout(text: str) -> bool:
    """An absolute path that ends in two or more parts of this project (".../local_models/demo.gguf"): a file
    of this project in the checkout it was written on."""
    if not text.startswith("/") or "\n" in text or len(text) > 300:
        return False
    parts = Path(text).parts[1:]
    return any((ROOT.joinpath(*parts[i:])).exists() for i in range(1, len(parts) - 1))


def test_no_test_or_script_depends_on_a_fixed_absolute_path() -> None:
    """A checkout lives anywhere and tests run side by side: paths come from __file__, fixtures or tmp_path."""
    offences = []
    for path, nodes in parsed(TESTS, ROOT / "scripts", ROOT / "benchmarks"):
        if path == Path(__file__).resolve():  # its own examples below
            continue
        for node in nodes:
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and fixed_path(node.value):
                offences.append(f"{where(path, node)}: {node.value!r} is {fixed_path(node.value)}")
    assert offences == []


# --- skips -----------------------------------------------------------------------------------------


def skip_reason_missing(call: ast.Call) -> str:
    """What is missing if `call` skips or expects a failure without saying why; "" if it says why."""
    name = dotted(call.func)
    short = name.rsplit(".", 1)[-1]
    positional_reason = name in ("pytest.skip", "pytest.xfail", "pytest.mark.skip")
    if (positional_reason and call.args) or any(k.arg in ("reason", "msg") for k in call.keywords):
        return ""
    if short in ("skip", "skipif", "xfail", "importorskip"):
        return f"{name} without a reason (say what is missing and how to get it)"
    return ""


def test_every_skip_says_why() -> None:
    offences = []
    for path, nodes in parsed():
        called = {id(node.func) for node in nodes if isinstance(node, ast.Call)}
        for node in nodes:
            if dotted(node) in ("pytest.mark.skip", "pytest.mark.xfail") and id(node) not in called:
                offences.append(f"{where(path, node)}: @{dotted(node)} without a reason")
            if isinstance(node, ast.Call) and dotted(node.func).startswith("pytest.") and skip_reason_missing(node):
                offences.append(f"{where(path, node)}: {skip_reason_missing(node)}")
    assert offences == []


# --- the rules catch what they are for, and nothing else ---------------------------------------------


@pytest.mark.parametrize("source", [
    "assert json.dumps(x)",
    "assert f'{x} seen'",
    "assert (x == 1, 'one')",
    "assert not exists or 'runs' not in out or True",
    "assert x == 1 or 'fallback'",
    "assert x == x",
    "assert len(items) >= 0",
    "assert not a in b == c",
    "assert len(errors) == 1 and words in errors[0].lower() if words.islower() else words in errors[0]",
])
def test_the_rules_flag_assertions_that_check_nothing_or_less_than_they_read(source: str) -> None:
    (node,) = ast.parse(source).body
    assert unchecked(node.test)


@pytest.mark.parametrize("source", [
    "assert json.loads(json.dumps(d)) == d",
    "assert x == 1 or y == 2",
    "assert str(e) == 'boom'",
    "assert list(items)",
    "assert a in b and b == c",
    "assert 1 <= n <= 3",
    "assert len(items) >= 1",
    "assert (a, b) == (1, 2)",
    "assert words in (low if words.islower() else line)",
    "assert f(x) == f(x)",
])
def test_the_rules_pass_assertions_that_can_fail(source: str) -> None:
    (node,) = ast.parse(source).body
    assert unchecked(node.test) == ""


def test_the_rules_flag_a_handler_that_swallows_an_assert_and_an_early_return() -> None:
    fake = TESTS / "fake.py"
    swallowed = list(ast.walk(ast.parse("try:\n    assert f()\nexcept AssertionError:\n    pass\n")))
    assert [line.split(": ", 1)[1] for line in swallowing_handlers(fake, swallowed)] == \
        ["`except AssertionError` swallows the asserts above it"]
    reraised = list(ast.walk(ast.parse("try:\n    assert f()\nexcept AssertionError:\n    log()\n    raise\n")))
    assert list(swallowing_handlers(fake, reraised)) == []
    returns = list(ast.walk(ast.parse("def test_x():\n    if not ready():\n        return\n    assert go()\n"
                                      "def test_y():\n    def helper():\n        return 1\n    assert helper()\n")))
    assert [line.split(": ", 1)[0] for line in early_returns(fake, returns)] == ["tests/fake.py:3"]


@pytest.mark.parametrize(("text", "flagged"), [
    ("/tmp/shots", True),
    ("/var/tmp/x.png", True),
    (str(ROOT / "local_models" / "demo.gguf"), True),
    ("/home/someone/modelscout/tests/conftest.py", True),  # another checkout's file
    ("/home/someone/models", False),
    ("/models/llama-3-70b.Q4_K_M.gguf", False),  # made-up data, not a place the test reads or writes
    ("/tmpfs-is-not-tmp", False),
])
def test_the_rules_flag_fixed_paths(text: str, flagged: bool) -> None:
    assert bool(fixed_path(text)) is flagged


@pytest.mark.parametrize(("source", "flagged"), [
    ("pytest.skip()", True),
    ("pytest.skip('no GPU here; install the CUDA build to run it')", False),
    ("pytest.mark.skipif(x)", True),
    ("pytest.mark.skipif(x, reason='needs Linux')", False),
    ("pytest.importorskip('llama_cpp')", True),
    ("pytest.importorskip('llama_cpp', reason='pip install llama-cpp-python')", False),
    ("pytest.mark.xfail(strict=True)", True),
    ("pytest.xfail('the server drops the connection: a known llama.cpp bug')", False),
])
def test_the_rules_flag_skips_without_a_reason(source: str, flagged: bool) -> None:
    call = ast.parse(source).body[0].value
    assert bool(skip_reason_missing(call)) is flagged
