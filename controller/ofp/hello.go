package ofp

// Hello element types (ofp_hello_elem_type).
const HelloElemVersionBitmap = 1

// HelloElem is one element of a HELLO. Elements of unknown type keep their
// payload in Data.
type HelloElem struct {
	Type uint16
	// Bitmaps holds the version bitmap words of a VERSIONBITMAP element:
	// bit n of word n/32 set means version n is supported.
	Bitmaps []uint32
	// Data is the raw payload of an element of another type.
	Data []byte
}

func (e *HelloElem) len() int {
	if e.Type == HelloElemVersionBitmap {
		return 4 + 4*len(e.Bitmaps)
	}
	return 4 + len(e.Data)
}

// Hello opens a connection and carries the versions a peer supports.
type Hello struct {
	Header
	Elements []HelloElem
}

// NewHello returns a HELLO offering exactly OpenFlow 1.3.
func NewHello() *Hello {
	return &Hello{Elements: []HelloElem{{Type: HelloElemVersionBitmap, Bitmaps: []uint32{1 << Version}}}}
}

// Supports reports whether the peer's HELLO offers version v: per its
// bitmap if it sent one, else if its header version is at least v.
func (m *Hello) Supports(v uint8) bool {
	for _, e := range m.Elements {
		if e.Type == HelloElemVersionBitmap {
			w := int(v) / 32
			return w < len(e.Bitmaps) && e.Bitmaps[w]&(1<<(v%32)) != 0
		}
	}
	return m.Version >= v
}

func (m *Hello) Type() Type { return TypeHello }

func (m *Hello) Len() int {
	n := HeaderLen
	for i := range m.Elements {
		n += align8(m.Elements[i].len())
	}
	return n
}

func (m *Hello) marshalBody(b []byte) {
	for i := range m.Elements {
		e := &m.Elements[i]
		be.PutUint16(b, e.Type)
		be.PutUint16(b[2:], uint16(e.len()))
		if e.Type == HelloElemVersionBitmap {
			for j, w := range e.Bitmaps {
				be.PutUint32(b[4+4*j:], w)
			}
		} else {
			copy(b[4:], e.Data)
		}
		b = b[align8(e.len()):]
	}
}

func (m *Hello) unmarshalBody(d *decoder) {
	// Elements are padded to 8 bytes; a peer of a later version may send
	// elements we do not know, which are kept.
	for d.len() > 0 && !d.failed() {
		n := d.tlvLen(2, 4, 1, "hello element")
		if d.failed() {
			return
		}
		// Elements are padded to 8 bytes, the last one too, as for
		// matches; accepting a missing pad would make the message encode
		// to other bytes than it was decoded from.
		padded := align8(n)
		if padded > d.len() {
			d.fail("hello element: padded length %d overruns the %d bytes left", padded, d.len())
			return
		}
		e := d.sub(padded, "hello element")
		el := HelloElem{Type: e.u16("type")}
		e.u16("length")
		body := e.sub(n-4, "hello element body")
		if el.Type == HelloElemVersionBitmap {
			if body.len()%4 != 0 {
				body.fail("version bitmap length %d not a multiple of 4", body.len())
				return
			}
			for body.len() > 0 {
				el.Bitmaps = append(el.Bitmaps, body.u32("bitmap"))
			}
		} else {
			el.Data = body.rest()
		}
		m.Elements = append(m.Elements, el)
	}
}

func align8(n int) int { return (n + 7) &^ 7 }
