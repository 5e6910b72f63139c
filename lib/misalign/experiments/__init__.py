"""Each chapter's own experiments: its cases, sweep cells and budgets, one module per chapter.

The measures they use (outcomes, probes, value correlations, steering, attribution,
robustness, statistics) live one level up, in modules named after the essay's concepts,
so that a reader forking a chapter changes the experiment here and keeps the measures.
"""
