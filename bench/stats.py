"""Statistics the bench scripts state their rates with (imported by their Python parts)."""
import math


def lower_bound(x, n, alpha=0.05):
    """One-sided Clopper-Pearson lower bound of a binomial rate (x successes of n)."""
    if n == 0 or x == 0:
        return 0.0
    if x == n:
        return alpha ** (1 / n)

    def tail(p):  # P(X >= x | p)
        return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(x, n + 1))

    lo, hi = 0.0, x / n
    for _ in range(60):
        mid = (lo + hi) / 2
        if tail(mid) < alpha:
            lo = mid
        else:
            hi = mid
    return lo
