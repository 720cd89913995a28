package ofp

import "fmt"

// MarshalInstructions encodes a flow entry's instructions as they appear on
// the wire after its match, in a FLOW_MOD or a flow stats entry. Two lists
// that encode to the same bytes install the same flow. A list that no
// message can carry is an error: an instruction longer than its 16-bit
// length field can say, or a list longer than a message.
func MarshalInstructions(is []Instruction) ([]byte, error) {
	n := 0
	for k, in := range is {
		if in == nil {
			return nil, fmt.Errorf("ofp: instruction %d is nil", k)
		}
		l := in.Len()
		if l > MaxMessageLen {
			return nil, fmt.Errorf("ofp: instruction %d (%s): encoded length %d exceeds %d", k, in.InstructionType(), l, MaxMessageLen)
		}
		n += l
	}
	if n > MaxMessageLen {
		return nil, fmt.Errorf("ofp: instructions: encoded length %d exceeds %d", n, MaxMessageLen)
	}
	b := make([]byte, n)
	marshalInstructions(b, is)
	return b, nil
}

// MarshalBuckets encodes a group's buckets as they appear on the wire, in a
// GROUP_MOD or a group description. A bucket longer than its 16-bit length
// field can say, or buckets longer than a message, are an error.
func MarshalBuckets(bs []Bucket) ([]byte, error) {
	n := 0
	for k := range bs {
		l := bs[k].Len()
		if l > MaxMessageLen {
			return nil, fmt.Errorf("ofp: bucket %d: encoded length %d exceeds %d", k, l, MaxMessageLen)
		}
		n += l
	}
	if n > MaxMessageLen {
		return nil, fmt.Errorf("ofp: buckets: encoded length %d exceeds %d", n, MaxMessageLen)
	}
	b := make([]byte, n)
	marshalBuckets(b, bs)
	return b, nil
}
