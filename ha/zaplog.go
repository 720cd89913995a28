package ha

import (
	"github.com/sirupsen/logrus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// logrusCore is a zap core that writes to a logrus entry, so that the etcd
// client's logs (zap) land in sixgate's (logrus) with the same format and
// level. The client's info lines are chatty; they go to debug.
type logrusCore struct {
	log    *logrus.Entry
	fields logrus.Fields
}

// newZapLogger returns a zap logger writing to log.
func newZapLogger(log *logrus.Entry) *zap.Logger {
	return zap.New(&logrusCore{log: log.WithField("component", "etcd-client"), fields: logrus.Fields{}})
}

func levelOf(l zapcore.Level) logrus.Level {
	switch {
	case l <= zapcore.InfoLevel:
		return logrus.DebugLevel
	case l == zapcore.WarnLevel:
		return logrus.WarnLevel
	}
	return logrus.ErrorLevel
}

func (c *logrusCore) Enabled(l zapcore.Level) bool { return c.log.Logger.IsLevelEnabled(levelOf(l)) }

func (c *logrusCore) With(fs []zapcore.Field) zapcore.Core {
	out := &logrusCore{log: c.log, fields: logrus.Fields{}}
	for k, v := range c.fields {
		out.fields[k] = v
	}
	addFields(out.fields, fs)
	return out
}

func (c *logrusCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *logrusCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	all := logrus.Fields{}
	for k, v := range c.fields {
		all[k] = v
	}
	addFields(all, fs)
	if e.LoggerName != "" {
		all["logger"] = e.LoggerName
	}
	// Never Fatal or Panic through logrus: those would exit or unwind
	// sixgate on the client's behalf; zap itself acts on them after Write.
	c.log.WithFields(all).Log(levelOf(e.Level), e.Message)
	return nil
}

func (c *logrusCore) Sync() error { return nil }

func addFields(dst logrus.Fields, fs []zapcore.Field) {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fs {
		f.AddTo(enc)
	}
	for k, v := range enc.Fields {
		dst[k] = v
	}
}
