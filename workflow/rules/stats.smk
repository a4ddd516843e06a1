# Statistics and trade-offs (RQ1, RQ2, RQ3.1): Tables 3-7, Figures 2-7.
