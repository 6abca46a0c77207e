package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// EnvOTLPEndpoint names the OTLP collector traces go to (the --otlp-endpoint flag of the
// worker and the starter). Empty: no tracing.
const EnvOTLPEndpoint = "SHIPGATE_OTLP_ENDPOINT"

// AttrStage is the span attribute naming the release's stage when an activity or child
// workflow was scheduled.
const AttrStage = "shipgate.stage"

// Tracing exports a process's spans over OTLP/gRPC. Close flushes what is buffered.
type Tracing struct {
	provider    *sdktrace.TracerProvider
	Interceptor interceptor.Interceptor
}

// ParseOTLPEndpoint checks an operator's collector address: a URL whose scheme says whether the
// connection is encrypted (https://collector:4317) or not (http://127.0.0.1:4317, for a
// collector beside the worker), as OTEL_EXPORTER_OTLP_ENDPOINT has it. It names the setting and
// the reason when the value is unusable, so a typo is not a silent loss of every trace.
func ParseOTLPEndpoint(endpoint string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is not a URL (want http://host:port or https://host:port): %w", EnvOTLPEndpoint, endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: %q: want http://host:port (plaintext) or https://host:port (TLS), the collector's OTLP/gRPC address", EnvOTLPEndpoint, endpoint)
	}
	if u.Host == "" || u.Port() == "" {
		return nil, fmt.Errorf("%s: %q: host and port required (OTLP/gRPC listens on 4317 by default)", EnvOTLPEndpoint, endpoint)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("%s: %q: only scheme, host and port (credentials go in OTEL_EXPORTER_OTLP_HEADERS)", EnvOTLPEndpoint, endpoint)
	}
	return u, nil
}

// NewTracing builds the tracer provider for process (shipgate-worker, shipgate-cli) and the
// Temporal interceptor that turns every workflow start, workflow task, activity, child
// workflow, signal, query and update into spans, propagated through Temporal's headers: a
// release is one trace from the starter's StartWorkflow to its last activity. Headers for the
// collector (an API key) come from OTEL_EXPORTER_OTLP_HEADERS, never from a flag.
func NewTracing(ctx context.Context, endpoint, process string) (*Tracing, error) {
	u, err := ParseOTLPEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(u.String()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvOTLPEndpoint, err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName(process), semconv.ServiceVersion(buildVersion())))
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(2*time.Second)), sdktrace.WithResource(res))
	in, err := opentelemetry.NewTracingInterceptor(opentelemetry.TracerOptions{
		Tracer:            tp.Tracer("github.com/shipgate/shipgate"),
		TextMapPropagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	})
	if err != nil {
		return nil, err
	}
	return &Tracing{provider: tp, Interceptor: in}, nil
}

// buildVersion is the module version the binary was built from ("(devel)" from a checkout).
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return "unknown"
}

// ClientInterceptor is the tracing interceptor for a client's own calls only (start, signal,
// query, update). Given to client.Options whole, the SDK would also make it the outermost
// worker interceptor, ahead of StageInterceptor; the worker lists both in worker.Options
// instead, in the order StageInterceptor needs.
func (t *Tracing) ClientInterceptor() interceptor.ClientInterceptor {
	return clientOnly{t.Interceptor}
}

type clientOnly struct{ interceptor.ClientInterceptor }

// Close flushes buffered spans (bounded by ctx) and stops the exporter.
func (t *Tracing) Close(ctx context.Context) error {
	return errors.Join(t.provider.ForceFlush(ctx), t.provider.Shutdown(ctx))
}

// StageInterceptor tags the span of every activity and child workflow a release schedules
// with the stage the release is in (its stage search attribute, read deterministically from
// the workflow), so a trace shows which stage each step belongs to. It must be listed before
// the tracing interceptor: a workflow's outbound calls pass the interceptors in the reverse
// order of its inbound ones, so its outbound side then runs inside the tracing one, which has
// put the span in the context. It adds no command and reads no clock: histories are unchanged.
func StageInterceptor(stage temporal.SearchAttributeKeyKeyword) interceptor.WorkerInterceptor {
	return &stageInterceptor{key: stage}
}

type stageInterceptor struct {
	interceptor.WorkerInterceptorBase
	key temporal.SearchAttributeKeyKeyword
}

func (s *stageInterceptor) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &stageInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, key: s.key}
}

type stageInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	key temporal.SearchAttributeKeyKeyword
}

func (s *stageInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return s.Next.Init(&stageOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, key: s.key})
}

type stageOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	key temporal.SearchAttributeKeyKeyword
}

func (s *stageOutbound) tag(ctx workflow.Context) {
	span, ok := opentelemetry.SpanFromWorkflowContext(ctx)
	if !ok || workflow.IsReplaying(ctx) {
		return
	}
	if stage, ok := workflow.GetTypedSearchAttributes(ctx).GetKeyword(s.key); ok {
		span.SetAttributes(attribute.String(AttrStage, stage))
	}
}

func (s *stageOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...interface{}) workflow.Future {
	s.tag(ctx)
	return s.Next.ExecuteActivity(ctx, activityType, args...)
}

func (s *stageOutbound) ExecuteLocalActivity(ctx workflow.Context, activityType string, args ...interface{}) workflow.Future {
	s.tag(ctx)
	return s.Next.ExecuteLocalActivity(ctx, activityType, args...)
}

func (s *stageOutbound) ExecuteChildWorkflow(ctx workflow.Context, childWorkflowType string, args ...interface{}) workflow.ChildWorkflowFuture {
	s.tag(ctx)
	return s.Next.ExecuteChildWorkflow(ctx, childWorkflowType, args...)
}

// Provider is the tracer provider, for spans of shipgate's own beside the interceptor's.
func (t *Tracing) Provider() trace.TracerProvider { return t.provider }
