"""Teaching warnings: bnlab explains the classic batch-normalization pitfalls when a user walks into them."""


class BatchNormPitfallWarning(UserWarning):
    """A BN configuration that trains, but not the way the user probably expects."""
