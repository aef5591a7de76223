package redact

import "reflect"

// maxDepth bounds the walk of Value: results and error details are shallow, and a
// cyclic value must not loop.
const maxDepth = 32

// Value returns v with every string it holds redacted: v itself, the exported fields of
// structs, the elements of slices, arrays and maps, what pointers and interfaces point
// to. v is never modified: what changes is copied. Byte slices, unexported fields and
// values nested deeper than 32 levels are left as they are.
func (r *Redactor) Value(v any) any {
	if r == nil || v == nil {
		return v
	}
	out, changed := r.walk(reflect.ValueOf(v), 0)
	if !changed {
		return v
	}
	return out.Interface()
}

// walk returns a redacted copy of v and whether anything changed; when nothing did, it
// returns v itself so that nothing is copied.
func (r *Redactor) walk(v reflect.Value, depth int) (reflect.Value, bool) {
	if depth > maxDepth || !v.IsValid() {
		return v, false
	}
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		red := r.String(s)
		if red == s {
			return v, false
		}
		out := reflect.New(v.Type()).Elem()
		out.SetString(red)
		return out, true
	case reflect.Pointer:
		if v.IsNil() {
			return v, false
		}
		elem, changed := r.walk(v.Elem(), depth+1)
		if !changed {
			return v, false
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(elem)
		return out, true
	case reflect.Interface:
		if v.IsNil() {
			return v, false
		}
		elem, changed := r.walk(v.Elem(), depth+1)
		if !changed {
			return v, false
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(elem)
		return out, true
	case reflect.Struct:
		var out reflect.Value
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			f, changed := r.walk(v.Field(i), depth+1)
			if !changed {
				continue
			}
			if !out.IsValid() {
				out = reflect.New(v.Type()).Elem()
				out.Set(v)
			}
			out.Field(i).Set(f)
		}
		if !out.IsValid() {
			return v, false
		}
		return out, true
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && (v.IsNil() || v.Type().Elem().Kind() == reflect.Uint8) {
			return v, false
		}
		var out reflect.Value
		for i := range v.Len() {
			e, changed := r.walk(v.Index(i), depth+1)
			if !changed {
				continue
			}
			if !out.IsValid() {
				if v.Kind() == reflect.Slice {
					out = reflect.MakeSlice(v.Type(), v.Len(), v.Len())
					reflect.Copy(out, v)
				} else {
					out = reflect.New(v.Type()).Elem()
					out.Set(v)
				}
			}
			out.Index(i).Set(e)
		}
		if !out.IsValid() {
			return v, false
		}
		return out, true
	case reflect.Map:
		if v.IsNil() {
			return v, false
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		changed := false
		it := v.MapRange()
		for it.Next() {
			k, kc := r.walk(it.Key(), depth+1)
			e, ec := r.walk(it.Value(), depth+1)
			changed = changed || kc || ec
			out.SetMapIndex(k, e)
		}
		if !changed {
			return v, false
		}
		return out, true
	}
	return v, false
}
