"""The Python half of examples/mixed: an actor that tallies words sent by Rust tasks.

    rustyray run examples/mixed --load examples/mixed/tally
"""

import rustyray


@rustyray.actor(snapshot=True)  # a crash restores the tally from its last snapshot
class WordTally:
    def __init__(self):
        self.counts = {}
        self.batches = 0

    def add(self, counts):
        """One Rust task's counts: a Rust HashMap<String, u64> arrives as a dict."""
        for word, n in counts.items():
            self.counts[word] = self.counts.get(word, 0) + n
        self.batches += 1
        return self.batches

    def top(self, k):
        """The k most frequent words as [word, count] pairs (a Rust Vec<(String, u64)>)."""
        ranked = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))
        return [[word, n] for word, n in ranked[:k]]

    def summary(self):
        return {"batches": self.batches, "distinct": len(self.counts),
                "words": sum(self.counts.values())}
