# Energy estimators (RQ3.2, RQ3.3): FLUSS, online and offline methods, Table 8-10, Figures 8-11.
