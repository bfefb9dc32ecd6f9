namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>How a <see cref="FakeScript"/> sequence ends after its tokens.</summary>
internal enum FakeEnd
{
    /// <summary>FinishedEvent(Stop) with the model's EOS id.</summary>
    Eos,

    /// <summary>FinishedEvent(Stop) with <see cref="FakeScript.StopTokenId"/>.</summary>
    StopToken,

    /// <summary>FinishedEvent(Length).</summary>
    Length,

    /// <summary>FailedEvent(<see cref="FakeScript.Error"/>).</summary>
    Fail,

    /// <summary>Nothing more until the sequence is cancelled; then FailedEvent(OperationCanceledException).</summary>
    Hang,
}
