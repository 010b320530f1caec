"""The algorithms as small pure tensor functions, each tested against hand-computed values.

Nothing here knows about models, configs or Lightning: a user replaces one
function (say, the advantage estimator) without copying a trainer.
"""
