// Package telemetry holds the worker's logger (zap, and its adapter for the Temporal SDK) and
// its Prometheus registry with shipgate's own metrics and the SDK's.
package telemetry

import (
	"fmt"

	"go.temporal.io/sdk/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// NewLogger is the worker's JSON logger.
func NewLogger(level string) (*zap.Logger, error) {
	cfg := zap.NewProductionConfig()
	if err := cfg.Level.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	cfg.EncoderConfig.TimeKey = "ts"
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	return cfg.Build()
}

// SDKLogger adapts zap to the Temporal SDK's logger. The SDK passes workflow and run ids as
// key-value pairs on every workflow and activity line, so they land as JSON fields.
type SDKLogger struct{ z *zap.SugaredLogger }

var (
	_ log.Logger     = (*SDKLogger)(nil)
	_ log.WithLogger = (*SDKLogger)(nil)
)

// NewSDKLogger wraps z for client.Options.Logger.
func NewSDKLogger(z *zap.Logger) *SDKLogger {
	return &SDKLogger{z: z.WithOptions(zap.AddCallerSkip(1)).Sugar()}
}

func (l *SDKLogger) Debug(msg string, kv ...any) { l.z.Debugw(msg, fields(kv)...) }
func (l *SDKLogger) Info(msg string, kv ...any)  { l.z.Infow(msg, fields(kv)...) }
func (l *SDKLogger) Warn(msg string, kv ...any)  { l.z.Warnw(msg, fields(kv)...) }
func (l *SDKLogger) Error(msg string, kv ...any) { l.z.Errorw(msg, fields(kv)...) }

// With returns a logger that adds kv to every line.
func (l *SDKLogger) With(kv ...any) log.Logger { return &SDKLogger{z: l.z.With(fields(kv)...)} }

// fields makes sure keys are strings (the SDK's are; a stray odd pair is kept, not lost).
func fields(kv []any) []any {
	out := make([]any, 0, len(kv))
	for i := 0; i < len(kv); i += 2 {
		key, ok := kv[i].(string)
		if !ok {
			key = fmt.Sprint(kv[i])
		}
		if i+1 < len(kv) {
			out = append(out, key, kv[i+1])
		} else {
			out = append(out, "extra", kv[i])
		}
	}
	return out
}
