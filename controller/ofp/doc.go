// Package ofp encodes and decodes OpenFlow 1.3 messages (OpenFlow Switch
// Specification 1.3.5, wire protocol 0x04).
//
// It is pure encoding: no I/O, no goroutines. Every message is a struct that
// implements [Message]; [Decode] turns the bytes of one message into a
// Message, [Marshal] turns a Message back into bytes. Decoding never trusts a
// length field: short, overlong and misaligned input is rejected with a
// [*DecodeError] that names the message and the byte offset. Elements the
// codec does not model (unknown messages, actions, instructions, OXM fields,
// properties) are kept as raw bytes, so Marshal(Decode(b)) == b for every
// valid message.
//
// [Reader] frames messages from a byte stream by their header length, and
// [Format] renders a message on one line in the style of
// "ovs-ofctl ofp-print". Match fields include the Nicira (NXM) fields Open
// vSwitch sends in OpenFlow 1.3, such as registers and conntrack state.
package ofp
