# tests/bench/plot_scaling.gp: the scaling curves of `make bench` scenario 10
# (tests/bench/README.md "Scaling curves").
# gnuplot -c plot_scaling.gp OUTDIR out.svg "curve: k=.. O(..)" ...
# OUTDIR holds scaling_<curve>.dat (x, median ms); log-log panels, each
# titled with the fitted exponent k of t ~ x^k that sc_scaling.sh printed.
set terminal svg size 1200,760 dynamic font "sans,11"
set output ARG2
fits = ""
do for [i = 3:ARGC] { fits = fits . "\n" . value("ARG" . i) }
fit_of(name) = (p = strstrt(fits, "\n" . name . ": "), p ? substr(fits, p + strlen(name) + 3, p + strlen(name) + 40) : "")
clean(s) = (q = strstrt(s, "\n"), q ? s[1:q - 1] : s)
set logscale xy 10
set format x "%g"
set format y "%g"
set grid
set key off
set multiplot layout 2, 3 title "wsbox scaling (medians, log-log; k: fitted exponent, t grows as x to the power k)" noenhanced
set xlabel "ancestor layers"; set ylabel "ms"
set title "exec -- true vs layers (" . clean(fit_of("layers")) . ")" noenhanced
plot ARG1 . "/scaling_layers.dat" w lp pt 7 lc rgb "#3b6ea5", ARG1 . "/scaling_layers_first.dat" w p pt 6 lc rgb "#c0392b"
set xlabel "MiB (16 files)"
set title "restore vs bytes (" . clean(fit_of("restore_bytes")) . ")" noenhanced
plot ARG1 . "/scaling_restore_bytes.dat" w lp pt 7 lc rgb "#3b6ea5"
set title "capture vs bytes (" . clean(fit_of("capture_bytes")) . ")" noenhanced
plot ARG1 . "/scaling_capture_bytes.dat" w lp pt 7 lc rgb "#3b6ea5"
set xlabel "files (64 B each)"
set title "restore vs files (" . clean(fit_of("restore_files")) . ")" noenhanced
plot ARG1 . "/scaling_restore_files.dat" w lp pt 7 lc rgb "#3b6ea5"
set title "capture vs files (" . clean(fit_of("capture_files")) . ")" noenhanced
plot ARG1 . "/scaling_capture_files.dat" w lp pt 7 lc rgb "#3b6ea5"
set xlabel "tasks (fan-in 100)"
set title "DAG assembly + conflicts vs tasks (" . clean(fit_of("dag")) . ")" noenhanced
plot ARG1 . "/scaling_dag.dat" w lp pt 7 lc rgb "#3b6ea5"
unset multiplot
