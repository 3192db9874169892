// Anchored status patterns: a small regular-expression subset compiled once into a table of the
// 1000 three-digit statuses, so a request only does a table lookup.
//
// Syntax: literals, `.`, `\d`, `[...]` (ranges, leading `^`), `(...)`, `|`, and the quantifiers
// `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`. A pattern must match the whole status: `4.*` matches 404 but not 204.

const enum Kind { Chars, Concat, Alt, Repeat }
const MAX_REPEAT = 16;
/** Longest pattern and deepest group nesting accepted: the parser and matcher recurse per level. */
const MAX_PATTERN_LENGTH = 256;
const MAX_GROUP_DEPTH = 16;

class Node {
  kind: Kind = Kind.Chars;
  lo: u64 = 0; // character set over ASCII, bits 0..63
  hi: u64 = 0; // bits 64..127
  children: Node[] = [];
  min: i32 = 0;
  max: i32 = 0; // -1: unbounded

  accepts(c: i32): bool {
    if (c < 0 || c > 127) return false;
    return c < 64 ? ((this.lo >> <u64>c) & 1) != 0 : ((this.hi >> <u64>(c - 64)) & 1) != 0;
  }

  addChar(c: i32): void {
    if (c < 64) this.lo |= (<u64>1) << <u64>c;
    else this.hi |= (<u64>1) << <u64>(c - 64);
  }

  // Maps a set of start positions (bit i = position i) to the set of positions where a match can end.
  step(s: string, starts: u64): u64 {
    if (this.kind == Kind.Chars) {
      let ends: u64 = 0;
      for (let p = 0; p < s.length; p++) {
        if (((starts >> <u64>p) & 1) != 0 && this.accepts(s.charCodeAt(p))) ends |= (<u64>1) << <u64>(p + 1);
      }
      return ends;
    }
    if (this.kind == Kind.Concat) {
      let cur = starts;
      for (let i = 0; i < this.children.length; i++) cur = this.children[i].step(s, cur);
      return cur;
    }
    if (this.kind == Kind.Alt) {
      let ends: u64 = 0;
      for (let i = 0; i < this.children.length; i++) ends |= this.children[i].step(s, starts);
      return ends;
    }
    const inner = this.children[0];
    let cur = starts;
    for (let i = 0; i < this.min; i++) cur = inner.step(s, cur);
    let acc = cur;
    for (let i = this.min; this.max < 0 || i < this.max; i++) {
      const next = inner.step(s, cur) | acc;
      if (next == acc) break;
      acc = next;
      cur = next;
    }
    return acc;
  }
}

class Parser {
  pos: i32 = 0;
  depth: i32 = 0;
  error: string = "";
  constructor(public src: string) {}

  peek(): i32 { return this.pos < this.src.length ? this.src.charCodeAt(this.pos) : -1; }

  fail(what: string): Node | null {
    if (this.error.length == 0) this.error = what + " at position " + this.pos.toString();
    return null;
  }

  alternation(): Node | null {
    const first = this.concat();
    if (first == null) return null;
    if (this.peek() != 0x7c) return first;
    const alt = new Node();
    alt.kind = Kind.Alt;
    alt.children.push(first);
    while (this.peek() == 0x7c) {
      this.pos++;
      const next = this.concat();
      if (next == null) return null;
      alt.children.push(next);
    }
    return alt;
  }

  concat(): Node | null {
    const seq = new Node();
    seq.kind = Kind.Concat;
    while (true) {
      const c = this.peek();
      if (c < 0 || c == 0x7c || c == 0x29) break;
      const item = this.repeat();
      if (item == null) return null;
      seq.children.push(item);
    }
    return seq;
  }

  repeat(): Node | null {
    let atom = this.atom();
    if (atom == null) return null;
    while (true) {
      const c = this.peek();
      let min = 0, max = 0;
      if (c == 0x2a) { min = 0; max = -1; this.pos++; }
      else if (c == 0x2b) { min = 1; max = -1; this.pos++; }
      else if (c == 0x3f) { min = 0; max = 1; this.pos++; }
      else if (c == 0x7b) {
        this.pos++;
        min = this.integer();
        max = min;
        if (this.peek() == 0x2c) {
          this.pos++;
          max = this.peek() == 0x7d ? -1 : this.integer();
        }
        if (min < 0 || (max >= 0 && max < min) || max > MAX_REPEAT || min > MAX_REPEAT || this.peek() != 0x7d) {
          return this.fail("bad {n,m} repetition");
        }
        this.pos++;
      } else break;
      const rep = new Node();
      rep.kind = Kind.Repeat;
      rep.min = min;
      rep.max = max;
      rep.children.push(atom);
      atom = rep;
    }
    return atom;
  }

  integer(): i32 {
    const start = this.pos;
    let n = 0;
    while (this.peek() >= 0x30 && this.peek() <= 0x39 && this.pos - start < 3) n = n * 10 + (this.src.charCodeAt(this.pos++) - 0x30);
    return this.pos == start ? -1 : n;
  }

  atom(): Node | null {
    const c = this.peek();
    if (c == 0x28) {
      if (++this.depth > MAX_GROUP_DEPTH) return this.fail("groups nested deeper than " + MAX_GROUP_DEPTH.toString());
      this.pos++;
      const inner = this.alternation();
      this.depth--;
      if (inner == null) return null;
      if (this.peek() != 0x29) return this.fail("missing ')'");
      this.pos++;
      return inner;
    }
    if (c == 0x2a || c == 0x2b || c == 0x3f || c == 0x7b) return this.fail("quantifier without anything to repeat");
    const node = new Node();
    if (c == 0x2e) {
      this.pos++;
      node.lo = ~(<u64>0);
      node.hi = ~(<u64>0);
      return node;
    }
    if (c == 0x5b) return this.charClass();
    if (c == 0x5c) {
      this.pos++;
      const e = this.peek();
      if (e < 0) return this.fail("dangling '\\'");
      this.pos++;
      if (e == 0x64) { for (let d = 0x30; d <= 0x39; d++) node.addChar(d); return node; }
      if (e > 127) return this.fail("non-ASCII character");
      node.addChar(e);
      return node;
    }
    if (c == 0x5d || c == 0x7d) return this.fail("unexpected '" + String.fromCharCode(c) + "'");
    if (c > 127) return this.fail("non-ASCII character");
    this.pos++;
    node.addChar(c);
    return node;
  }

  charClass(): Node | null {
    this.pos++;
    const node = new Node();
    let negate = false;
    if (this.peek() == 0x5e) { negate = true; this.pos++; }
    let count = 0;
    while (this.peek() != 0x5d) {
      let c = this.peek();
      if (c < 0) return this.fail("missing ']'");
      if (c > 127) return this.fail("non-ASCII character");
      this.pos++;
      if (c == 0x5c) {
        c = this.peek();
        if (c < 0 || c > 127) return this.fail("bad escape in class");
        this.pos++;
      }
      if (this.peek() == 0x2d && this.pos + 1 < this.src.length && this.src.charCodeAt(this.pos + 1) != 0x5d) {
        this.pos++;
        const end = this.peek();
        if (end > 127 || end < c) return this.fail("bad range in class");
        this.pos++;
        for (let x = c; x <= end; x++) node.addChar(x);
      } else {
        node.addChar(c);
      }
      count++;
    }
    this.pos++;
    if (count == 0) return this.fail("empty class");
    if (negate) { node.lo = ~node.lo; node.hi = ~node.hi; }
    return node;
  }
}

/** True when `pattern` matches all of `text` (text at most 63 characters). */
function wholeMatch(root: Node, text: string): bool {
  return ((root.step(text, 1) >> <u64>text.length) & 1) != 0;
}

/** The set of statuses 0..999 that a list of anchored patterns matches; pure, built at configure time. */
export class StatusSet {
  private table: StaticArray<bool> = new StaticArray<bool>(1000);

  /** Whether `status` is in the set. */
  has(status: i32): bool {
    return status >= 0 && status < 1000 && unchecked(this.table[status]);
  }

  /** Adds every three-digit status the pattern matches; returns "" or, when it does not compile, why. */
  addPattern(pattern: string): string {
    if (pattern.length == 0) return "empty pattern";
    if (pattern.length > MAX_PATTERN_LENGTH) return "longer than " + MAX_PATTERN_LENGTH.toString() + " characters";
    const p = new Parser(pattern);
    const root = p.alternation();
    if (root == null || p.error.length > 0) return p.error;
    if (p.pos != pattern.length) return "unexpected ')' at position " + p.pos.toString();
    let http = 0;
    for (let s = 0; s < 1000; s++) {
      const text = (s < 10 ? "00" : s < 100 ? "0" : "") + s.toString();
      if (!wholeMatch(root, text)) continue;
      unchecked(this.table[s] = true);
      if (s >= 100 && s <= 599) http++;
    }
    // A pattern that matches no status an answer can have is a mistake (such as `4xx`), not a rule.
    if (http == 0) return "matches no HTTP status from 100 to 599 (a pattern is a regular expression over the three digits: 4.. is every 4xx)";
    return "";
  }
}
