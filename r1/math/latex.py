"""A small LaTeX → sympy parser for final answers.

sympy's own ``parse_latex`` needs a specific antlr4 runtime, and ``parse_expr``
runs ``eval`` on its input — unacceptable for model output. This is a
recursive-descent parser over a token list that builds sympy objects directly,
covering what answers use: numbers, letters, ``\\frac``, ``\\sqrt``, powers,
implicit multiplication, ``\\pi``, ``i``, ``e``, trig/log functions, ``|x|``,
``!``, ``\\binom`` and matrices (``pmatrix``, ``bmatrix``, ``array``; a ``vmatrix``
is its determinant), so that a matrix sum written out evaluates. It refuses
(raises :class:`TooLarge`) to build numbers too big to evaluate, such as
``9^{9^{9^{9}}}``, and matrix powers above :data:`MAX_MATRIX_POWER`.

Grammar (lowest binding first)::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/" | \\cdot | \\times | \\div)? unary)*   # juxtaposition multiplies
    unary   := ("-" | "+") unary | power
    power   := postfix ("^" exponent)?
    postfix := atom ("!" | "%")*
    atom    := number | letter[_sub] | "(" expr ")" | "{" expr "}" | "|" expr "|" | command
    matrix  := \\begin{env} expr ("&" expr)* ("\\\\" expr ("&" expr)*)* \\end{env}      # a command
"""

from __future__ import annotations

import math
import re

import sympy

MAX_POWER_BITS = 1 << 17
"""A number^number whose result would exceed this many bits is refused (about 40 000 digits)."""
MAX_SYMBOLIC_EXPONENT = 10_000
"""An integer exponent above this on a compound base is refused: expanding it would hang."""
MAX_FACTORIAL = 2_000
MAX_MATRIX_POWER = 64
"""A matrix is raised to whole powers up to this one only: each step is a matrix product."""
_MATRIX_ENVIRONMENTS = frozenset("matrix pmatrix bmatrix Bmatrix smallmatrix array vmatrix".split())

_TOKEN = re.compile(
    r"(?P<num>\d+(?:\.\d*)?|\.\d+)"
    r"|(?P<cmd>\\[a-zA-Z]+|\\.)"
    r"|(?P<word>[a-zA-Z]+)"
    r"|(?P<op>\*\*|[-+*/^_!=,()\[\]{}|'%&])"
    r"|(?P<ws>\s+)"
)
_IGNORED_CMDS = frozenset(
    r"\left \right \displaystyle \, \! \; \: \  \quad \qquad \big \Big \bigl \bigr \Bigl \Bigr \limits".split()
)
_FUNCTIONS = {
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "cot": sympy.cot, "sec": sympy.sec,
    "csc": sympy.csc, "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan,
    "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh, "exp": sympy.exp, "ln": sympy.log,
    "log": sympy.log, "sqrt": sympy.sqrt,
}  # fmt: skip
_GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi "
    "rho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi Omega".split()
)
_MULTI_LETTER_WORDS = sorted([*_FUNCTIONS, "pi", "infty", "inf"], key=len, reverse=True)
_NOT_ATOM_START = frozenset(r"\pm \mp \cup \cap \le \ge \lt \gt \ne \} \rfloor \rceil \to \approx \in \end \\".split())
_MUL_OPS = frozenset({"*", "\\cdot", "\\times", "\\ast"})
_DIV_OPS = frozenset({"/", "\\div"})


class ParseError(ValueError):
    """The text is not an expression this parser understands."""


class TooLarge(ValueError):
    """The expression denotes a number too large to build (``9^{9^{9^9}}``)."""


def parse_latex(text: str) -> sympy.Expr:
    """Parse a LaTeX (or plain-text) expression into a sympy expression.

    Args:
        text: One expression, e.g. ``"\\frac{\\sqrt{3}}{2} + 2i"`` or ``"sqrt(3)/2"``.

    Returns:
        The sympy expression. Letters become ``Symbol``s, except ``i`` (the
        imaginary unit) and ``e`` (Euler's number), as in contest answers.

    Raises:
        ParseError: on syntax this parser does not cover.
        TooLarge: on numbers too large to evaluate safely.
    """
    parser = _Parser(_tokenize(text))
    expr = parser.expr()
    if parser.peek() is not None:
        raise ParseError(f"unexpected {parser.peek()!r} in {text!r}")
    return expr


def _tokenize(text: str) -> list[tuple[str, str]]:
    """Split into ``(kind, value)`` tokens; letter runs become known words or single letters."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ParseError(f"unexpected character {text[pos]!r}")
        pos = m.end()
        kind, value = m.lastgroup, m.group()
        assert kind is not None
        if kind == "ws" or (kind == "cmd" and value in _IGNORED_CMDS):
            continue
        if kind == "cmd" and value in ("\\vert", "\\lvert", "\\rvert", "\\mid"):
            kind, value = "op", "|"
        if kind == "word":
            tokens.extend(_split_word(value))
        else:
            tokens.append((kind, value))
    return tokens


def _split_word(word: str) -> list[tuple[str, str]]:
    """``"xy"`` is x times y, but ``"sqrt"``, ``"pi"`` and ``"sin"`` are names."""
    out, i = [], 0
    while i < len(word):
        name = next((w for w in _MULTI_LETTER_WORDS if word.startswith(w, i)), None)
        if name is not None:
            out.append(("cmd", "\\" + name))
            i += len(name)
        else:
            out.append(("letter", word[i]))
            i += 1
    return out


def guarded_pow(base: sympy.Expr, exp: sympy.Expr) -> sympy.Expr:
    """``base ** exp``, refusing results too large to compute.

    sympy evaluates ``Integer ** Integer`` eagerly, so ``9^{9^{9^9}}`` would try to
    build a number with 370 million digits; estimate its size in log space first.
    A compound base (``\\sqrt{2}``, ``x + 1``) with a huge integer exponent is
    refused too, since sympy folds or expands it.
    """
    if isinstance(base, sympy.MatrixBase):
        if not (exp.is_Integer and 0 <= int(exp) <= MAX_MATRIX_POWER):
            raise TooLarge("a matrix is raised to small whole powers only")
        return base ** int(exp)
    if exp.is_Integer and abs(int(exp)) > MAX_SYMBOLIC_EXPONENT and not (base.is_Symbol or base.is_Number):
        raise TooLarge("exponent too large for a compound base")
    if base.is_Rational and exp.is_Rational and not exp.is_zero:
        magnitude = abs(base)
        if magnitude != 1 and magnitude != 0:
            log2_base = abs(math.log2(int(magnitude.p)) - math.log2(int(magnitude.q)))
            log2_bits = math.log2(abs(int(exp.p))) - math.log2(int(exp.q)) + math.log2(log2_base)
            if log2_bits > math.log2(MAX_POWER_BITS):
                raise TooLarge("power too large")
    return sympy.Pow(base, exp)


class _Parser:
    """Recursive descent over a token list; see the module docstring for the grammar."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.abs_depth = 0

    # -- token helpers ---------------------------------------------------------

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ParseError("unexpected end of input")
        self.pos += 1
        return tok

    def accept(self, *values: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[1] in values:
            self.pos += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.accept(value):
            raise ParseError(f"expected {value!r}, got {self.peek()!r}")

    def starts_atom(self) -> bool:
        """Whether the next token can begin a factor (so juxtaposition means multiplication)."""
        tok = self.peek()
        if tok is None:
            return False
        kind, value = tok
        if kind in ("num", "letter"):
            return True
        if kind == "cmd":
            return value not in _MUL_OPS and value not in _DIV_OPS and value not in _NOT_ATOM_START
        if value == "|":
            return self.abs_depth == 0
        return value in ("(", "[", "{")

    # -- grammar ---------------------------------------------------------------

    def expr(self) -> sympy.Expr:
        result = self.term()
        while True:
            if self.accept("+"):
                result = result + self.term()
            elif self.accept("-"):
                result = result - self.term()
            else:
                return result

    def term(self) -> sympy.Expr:
        result = self.unary()
        while True:
            tok = self.peek()
            if tok is not None and tok[1] in _MUL_OPS:
                self.next()
                result = result * self.unary()
            elif tok is not None and tok[1] in _DIV_OPS:
                self.next()
                result = result / self.unary()
            elif self.starts_atom():
                if tok is not None and tok[0] == "num" and self.tokens[self.pos - 1][0] == "num":
                    # "1 000" or "2 3": spaced digits or two numbers; neither is a product
                    raise ParseError("two numbers in a row")
                result = result * self.power()
            else:
                return result

    def unary(self) -> sympy.Expr:
        if self.accept("-"):
            return -self.unary()
        if self.accept("+"):
            return self.unary()
        return self.power()

    def power(self) -> sympy.Expr:
        base = self.postfix()
        if self.accept("^", "**"):
            return guarded_pow(base, self.exponent())
        return base

    def exponent(self) -> sympy.Expr:
        """A power's exponent: a group, a signed atom, or a whole number (``2^10`` is 1024)."""
        if self.accept("-"):
            return -self.exponent()
        if self.accept("+"):
            return self.exponent()
        base = self.postfix()
        if self.accept("^", "**"):  # a^b^c is a^(b^c)
            return guarded_pow(base, self.exponent())
        return base

    def postfix(self) -> sympy.Expr:
        result = self.atom()
        while True:
            if self.accept("!"):
                if result.is_Integer and int(result) > MAX_FACTORIAL:
                    raise TooLarge("factorial too large")
                result = sympy.factorial(result)
            elif self.accept("%"):
                result = result / 100
            elif self.accept("'"):
                raise ParseError("primes are not supported")
            else:
                return result

    def atom(self) -> sympy.Expr:
        kind, value = self.next()
        if kind == "num":
            return sympy.Rational(value)  # exact: 0.15 is 3/20
        if kind == "letter":
            return self.subscripted(value)
        if value in ("(", "[", "{"):
            inner = self.expr()
            self.expect({"(": ")", "[": "]", "{": "}"}[value])
            return inner
        if value == "|":
            self.abs_depth += 1
            inner = self.expr()
            self.abs_depth -= 1
            self.expect("|")
            return sympy.Abs(inner)
        if kind == "cmd":
            return self.command(value[1:])
        raise ParseError(f"unexpected {value!r}")

    def subscripted(self, letter: str) -> sympy.Expr:
        if self.peek() is not None and self.peek()[1] == "_":  # type: ignore[index]
            self.next()
            return sympy.Symbol(f"{letter}_{self.raw_argument()}")
        if letter == "i":
            return sympy.I
        if letter == "e":
            return sympy.E
        return sympy.Symbol(letter)

    def raw_argument(self) -> str:
        """A subscript as text: ``{12}`` → ``"12"``, ``n`` → ``"n"``."""
        if self.accept("{"):
            parts = []
            while not self.accept("}"):
                parts.append(self.next()[1])
            return "".join(parts)
        return self.next()[1]

    def argument(self) -> sympy.Expr:
        """A macro argument: a braced group, or one token (one digit of a number, as TeX does)."""
        tok = self.peek()
        if tok is None:
            raise ParseError("missing argument")
        if tok[1] == "{":
            self.next()
            inner = self.expr()
            self.expect("}")
            return inner
        if tok[0] == "num" and len(tok[1]) > 1:  # \frac 34 reads "3" then "4"
            self.tokens[self.pos] = ("num", tok[1][1:])
            return sympy.Integer(tok[1][0])
        return self.atom()

    def command(self, name: str) -> sympy.Expr:
        if name in ("frac", "dfrac", "tfrac", "cfrac"):
            num = self.argument()
            return num / self.argument()
        if name == "binom":
            n = self.argument()
            return sympy.binomial(n, self.argument())
        if name == "sqrt":
            if self.accept("["):
                index = self.expr()
                self.expect("]")
                return sympy.root(self.argument(), index)
            return sympy.sqrt(self.argument())
        if name == "pi":
            return sympy.pi
        if name in ("infty", "inf"):
            return sympy.oo
        if name in _GREEK:
            return self.subscripted_greek(name)
        if name in _FUNCTIONS:
            return self.function(name)
        if name in ("text", "mathrm", "textrm", "operatorname", "mathit", "mathbf", "textbf", "mbox"):
            return self.named_group()
        if name in ("lfloor", "lceil"):
            inner = self.expr()
            self.expect("\\rfloor" if name == "lfloor" else "\\rceil")
            return sympy.floor(inner) if name == "lfloor" else sympy.ceiling(inner)
        if name == "{":
            inner = self.expr()
            self.expect("\\}")
            return inner
        if name == "begin":
            return self.matrix()
        if name == "%":
            raise ParseError("stray percent sign")
        raise ParseError(f"unsupported command \\{name}")

    def matrix(self) -> sympy.Expr:
        """``\\begin{pmatrix} a & b \\\\ c & d \\end{pmatrix}`` (after ``\\begin``): cells ``&``, rows ``\\\\``."""
        environment = self.raw_argument()
        if environment not in _MATRIX_ENVIRONMENTS:
            raise ParseError(f"unsupported environment {environment!r}")
        if environment == "array" and self.peek() is not None and self.peek()[1] == "{":  # type: ignore[index]
            self.raw_argument()  # the column specification, {cc} or {c|c}
        rows: list[list[sympy.Expr]] = [[]]
        while not self.accept("\\end"):
            if self.accept("\\\\"):
                rows.append([])
            elif not self.accept("&"):
                rows[-1].append(self.expr())
        if self.raw_argument() != environment:
            raise ParseError(f"\\begin{{{environment}}} closed by another environment")
        cells = [row for row in rows if row]
        if not cells or len({len(row) for row in cells}) != 1:
            raise ParseError("a matrix needs rows of equal length")
        matrix = sympy.ImmutableMatrix(cells)
        return matrix.det() if environment == "vmatrix" else matrix

    def subscripted_greek(self, name: str) -> sympy.Expr:
        if self.accept("_"):
            return sympy.Symbol(f"{name}_{self.raw_argument()}")
        return sympy.Symbol(name)

    def named_group(self) -> sympy.Expr:
        """``\\mathrm{e}``, ``\\operatorname{sin}`` or ``\\text{x}``: the named thing itself."""
        text = self.raw_argument().strip()
        if text in _FUNCTIONS:
            return self.function(text)
        if re.fullmatch(r"[a-zA-Z]", text):
            return self.subscripted(text)
        raise ParseError(f"text {text!r} in an expression")

    def function(self, name: str) -> sympy.Expr:
        """``\\sin x``, ``\\sin^2 x``, ``\\sin(2x)``, ``\\log_2 8``, ``\\sqrt(2)``."""
        base = None
        if name == "log" and self.accept("_"):
            base = self.argument()
        power = None
        if self.accept("^"):
            power = self.exponent()
        if self.peek() is not None and self.peek()[1] in ("(", "{"):  # type: ignore[index]
            arg = self.atom()
        else:
            arg = self.power()
            # \sin 2x is sin(2x); the argument stops at the next function or operator
            while self.starts_atom() and not self._next_is_function():
                arg = arg * self.power()
        fn = _FUNCTIONS[name]
        value = sympy.log(arg, base) if base is not None else fn(arg)
        return guarded_pow(value, power) if power is not None else value

    def _next_is_function(self) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "cmd" and tok[1][1:] in _FUNCTIONS
