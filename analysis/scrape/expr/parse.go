// Package expr is the query language of the scrape provider: a small subset of PromQL
// that needs no Prometheus server. It reads the series of two successive scrapes of
// an instance (or many such pairs, pooled) and turns them into one number:
//
//	rate(http_requests_total{code=~"5.."}) / rate(http_requests_total)
//	histogram_quantile(0.99, http_request_duration_seconds)
//	websocket_connections
//
// Functions: rate(sel) (per-second increase of a counter), increase(sel) (increase over
// the span), histogram_quantile(φ, sel) (from the increase of a histogram's buckets), and
// a bare selector for a gauge. Numbers, + - * / and parentheses combine them. A selector
// sums every series it matches, as sum(...) would in PromQL, so no aggregation operator
// is needed (nor accepted). Ranges ([5m]) are not written: the span is the scrape step.
package expr

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Expr is a parsed query.
type Expr struct {
	src   string
	root  node
	names []string
}

// String returns the source text.
func (e *Expr) String() string { return e.src }

// Names lists the metric names the query reads (histogram buckets with their _bucket
// suffix), so a scraper keeps only those series.
func (e *Expr) Names() []string { return e.names }

// Parse reads a query. Errors say where and what, in the words of the language.
func Parse(src string) (*Expr, error) {
	p := &parser{src: src}
	if err := p.lex(); err != nil {
		return nil, err
	}
	root, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t, "unexpected %s", t)
	}
	e := &Expr{src: src, root: root}
	walk(root, func(n node) {
		if s, ok := n.(*selector); ok && !slices.Contains(e.names, s.name) {
			e.names = append(e.names, s.name)
		}
	})
	return e, nil
}

// MustParse is Parse for queries known to be valid (tests, built-in examples).
func MustParse(src string) *Expr {
	e, err := Parse(src)
	if err != nil {
		panic(err)
	}
	return e
}

type tokenKind int

const (
	tEOF tokenKind = iota
	tIdent
	tNumber
	tString
	tOp // + - * / ( ) { } , = != =~ !~
)

type token struct {
	kind tokenKind
	text string
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tString:
		return "string " + strconv.Quote(t.text)
	}
	return strconv.Quote(t.text)
}

type parser struct {
	src  string
	toks []token
	i    int
}

func (p *parser) errAt(t token, format string, args ...any) error {
	return fmt.Errorf("at %d: %s", t.pos+1, fmt.Sprintf(format, args...))
}

func (p *parser) lex() error {
	s := p.src
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '_' || c == ':' || unicode.IsLetter(c):
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] == ':' || isAlnum(s[j])) {
				j++
			}
			p.toks = append(p.toks, token{tIdent, s[i:j], i})
			i = j
		case (c >= '0' && c <= '9') || c == '.':
			j := i
			for j < len(s) && (isAlnum(s[j]) || s[j] == '.' || ((s[j] == '+' || s[j] == '-') && (s[j-1] == 'e' || s[j-1] == 'E'))) {
				j++
			}
			if _, err := strconv.ParseFloat(s[i:j], 64); err != nil {
				return fmt.Errorf("at %d: %q is not a number", i+1, s[i:j])
			}
			p.toks = append(p.toks, token{tNumber, s[i:j], i})
			i = j
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(s) && s[j] != byte(c) {
				if s[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return fmt.Errorf("at %d: string not closed", i+1)
			}
			text, err := unquote(s[i:j+1], byte(c))
			if err != nil {
				return fmt.Errorf("at %d: bad string %s", i+1, s[i:j+1])
			}
			p.toks = append(p.toks, token{tString, text, i})
			i = j + 1
		case c == '[':
			return fmt.Errorf("at %d: scrape queries take no range ([...]): each sample spans one analysis step", i+1)
		default:
			for _, op := range []string{"!=", "=~", "!~", "+", "-", "*", "/", "(", ")", "{", "}", ",", "="} {
				if strings.HasPrefix(s[i:], op) {
					p.toks = append(p.toks, token{tOp, op, i})
					i += len(op)
					goto next
				}
			}
			return fmt.Errorf("at %d: unexpected %q", i+1, c)
		next:
		}
	}
	p.toks = append(p.toks, token{kind: tEOF, pos: len(s)})
	return nil
}

// unquote reads a string literal as PromQL does: Go escapes in "..." and '...', none
// in `...`.
func unquote(lit string, quote byte) (string, error) {
	switch quote {
	case '`':
		return lit[1 : len(lit)-1], nil
	case '"':
		return strconv.Unquote(lit)
	}
	// '...': rewrite as "..." (\' becomes ', a bare " gets escaped) and unquote that.
	var b strings.Builder
	b.WriteByte('"')
	inner := lit[1 : len(lit)-1]
	for k := 0; k < len(inner); k++ {
		switch {
		case inner[k] == '\\' && k+1 < len(inner) && inner[k+1] == '\'':
			b.WriteByte('\'')
			k++
		case inner[k] == '\\' && k+1 < len(inner):
			b.WriteString(inner[k : k+2])
			k++
		case inner[k] == '"':
			b.WriteString(`\"`)
		default:
			b.WriteByte(inner[k])
		}
	}
	b.WriteByte('"')
	return strconv.Unquote(b.String())
}

func isAlnum(b byte) bool {
	return b == '_' || (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) isOp(text string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == text
}

func (p *parser) expect(text string) error {
	if t := p.next(); t.kind != tOp || t.text != text {
		return p.errAt(t, "expected %q, found %s", text, t)
	}
	return nil
}

// expr := term { ("+" | "-") term }
func (p *parser) expr() (node, error) {
	left, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		op := p.next().text
		right, err := p.term()
		if err != nil {
			return nil, err
		}
		left = &binary{op: op, l: left, r: right}
	}
	return left, nil
}

// term := unary { ("*" | "/") unary }
func (p *parser) term() (node, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") {
		op := p.next().text
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		left = &binary{op: op, l: left, r: right}
	}
	return left, nil
}

// unary := "-" unary | primary
func (p *parser) unary() (node, error) {
	if p.isOp("-") {
		p.next()
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &binary{op: "-", l: number(0), r: n}, nil
	}
	return p.primary()
}

// aggregations PromQL users may write out of habit; a selector already sums.
var aggregations = map[string]bool{"sum": true, "avg": true, "max": true, "min": true, "count": true, "irate": true, "delta": true}

// primary := number | "(" expr ")" | function "(" args ")" | selector
func (p *parser) primary() (node, error) {
	t := p.peek()
	switch {
	case t.kind == tNumber:
		p.next()
		v, _ := strconv.ParseFloat(t.text, 64)
		return number(v), nil
	case t.kind == tOp && t.text == "(":
		p.next()
		n, err := p.expr()
		if err != nil {
			return nil, err
		}
		return n, p.expect(")")
	case t.kind == tIdent && p.toks[p.i+1].kind == tOp && p.toks[p.i+1].text == "(":
		return p.call()
	case t.kind == tIdent:
		return p.selector()
	}
	return nil, p.errAt(t, "expected a number, a metric or a function, found %s", t)
}

func (p *parser) call() (node, error) {
	name := p.next()
	p.next() // (
	switch name.text {
	case "rate", "increase":
		sel, err := p.selectorArg(name.text)
		if err != nil {
			return nil, err
		}
		if name.text == "rate" {
			return &rate{sel: sel}, p.expect(")")
		}
		return &increase{sel: sel}, p.expect(")")
	case "histogram_quantile":
		q := p.next()
		if q.kind != tNumber {
			return nil, p.errAt(q, "histogram_quantile takes a number between 0 and 1 first, found %s", q)
		}
		phi, _ := strconv.ParseFloat(q.text, 64)
		if phi < 0 || phi > 1 {
			return nil, p.errAt(q, "histogram_quantile's quantile must be between 0 and 1, not %s", q.text)
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		sel, err := p.selectorArg(name.text)
		if err != nil {
			return nil, err
		}
		if !strings.HasSuffix(sel.name, "_bucket") {
			sel.name += "_bucket" // the histogram's name is accepted, as its buckets are meant
		}
		return &quantile{phi: phi, sel: sel}, p.expect(")")
	}
	if aggregations[name.text] {
		return nil, p.errAt(name, "%s(...) is PromQL; scrape queries sum the series a selector matches already, write e.g. rate(x) rather than sum(rate(x))", name.text)
	}
	return nil, p.errAt(name, "unknown function %s; scrape queries know rate, increase and histogram_quantile", name.text)
}

func (p *parser) selectorArg(fn string) (*selector, error) {
	if t := p.peek(); t.kind != tIdent {
		return nil, p.errAt(t, "%s takes a metric selector, found %s", fn, t)
	}
	return p.selector()
}

// selector := name [ "{" [ matcher { "," matcher } [","] ] "}" ]
func (p *parser) selector() (*selector, error) {
	s := &selector{name: p.next().text}
	if p.isOp("{") {
		p.next()
		for !p.isOp("}") {
			lt := p.next()
			if lt.kind != tIdent {
				return nil, p.errAt(lt, "expected a label name, found %s", lt)
			}
			opt := p.next()
			if opt.kind != tOp || !slices.Contains([]string{"=", "!=", "=~", "!~"}, opt.text) {
				return nil, p.errAt(opt, "expected =, !=, =~ or !~ after %s, found %s", lt.text, opt)
			}
			vt := p.next()
			if vt.kind != tString {
				return nil, p.errAt(vt, "expected a quoted value for %s, found %s", lt.text, vt)
			}
			m := matcher{label: lt.text, op: opt.text, value: vt.text}
			if opt.text == "=~" || opt.text == "!~" {
				re, err := regexp.Compile("^(?:" + vt.text + ")$")
				if err != nil {
					return nil, p.errAt(vt, "bad regular expression for %s: %v", lt.text, err)
				}
				m.re = re
			}
			s.matchers = append(s.matchers, m)
			if !p.isOp(",") {
				break
			}
			p.next()
		}
		if err := p.expect("}"); err != nil {
			return nil, err
		}
	}
	return s, nil
}
