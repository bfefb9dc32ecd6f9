// Each cluster fixture runs three in-process silos; on the 2-core build machines the collections run one
// at a time, which also keeps the shared call recorder's counts unambiguous.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
