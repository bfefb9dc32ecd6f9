using System.Diagnostics;
using Llama4Cluster.Core.Diagnostics;

namespace Llama4Cluster.Core.Scheduling;

public sealed partial class ContinuousBatchScheduler
{
    /// <summary>
    /// The step's <c>scheduler.step</c> span (<see cref="CoreTelemetry"/>), current while the ranks are called: a child of the
    /// first of its sequences' requests (by rank, then admission), linked to the others' (one step serves many requests; a
    /// span has one parent).
    /// Null when nobody listens or the sampler drops it.
    /// </summary>
    private static Activity? StartStepActivity(long step, StepPlan plan)
    {
        if (!CoreTelemetry.Source.HasListeners()) return null;
        ActivityContext parent = default;
        List<ActivityLink>? links = null;
        int sequences = 0;
        foreach (var members in plan.Members)
        {
            if (members is null) continue;
            foreach (var s in members)
            {
                sequences++;
                if (s.Trace == default) continue;
                if (parent == default) parent = s.Trace;
                else if (s.Trace.TraceId != parent.TraceId) (links ??= []).Add(new ActivityLink(s.Trace));
            }
        }
        var activity = CoreTelemetry.Source.StartActivity("scheduler.step", ActivityKind.Internal, parent, links: links);
        if (activity is null) return null;
        activity.SetTag("llama4.step", step);
        activity.SetTag("llama4.sequences", sequences);
        activity.SetTag("llama4.decodes", plan.Decodes);
        activity.SetTag("llama4.prefill_tokens", plan.PrefillTokens);
        return activity;
    }
}
