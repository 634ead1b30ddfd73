# tests/bench/plot.gp: the chart of `make bench` (tests/bench/README.md).
# gnuplot -c plot.gp ratios.dat out.svg
# ratios.dat: one line per scenario with a target: name ratio target.
# Horizontal bars (names stay readable): wsbox / reference peer, blue when
# within its target, red when not; a grey tick marks the target. Log scale:
# ratios span 0.0001 (restore) to 100.
set terminal svg size 1000,600 dynamic font "sans,12"
set output ARG2
set title "wsbox / reference peer (lower is better; red = above its target, | = target)"
set style fill solid 0.85 border -1
set logscale x 10
set xrange [1e-4:*]
set format x "%g"
set grid xtics
set xlabel "ratio (log scale)"
set ytics nomirror noenhanced font ",10"
set yrange [*:*] reverse
set offsets 0, 0, 0.6, 0.6
set lmargin 30
set key bottom right
plot ARG1 using (sqrt($2 * 1e-4)):0:(1e-4):2:($0 - 0.35):($0 + 0.35):($2 <= $3 ? 0x3b6ea5 : 0xc0392b):ytic(1) \
          with boxxyerror lc rgb variable title "wsbox / peer", \
     ''   using 3:0:(0):(0.45) with vectors nohead lw 3 lc rgb "#555555" title "target", \
     ''   using 3:0:(0):(-0.45) with vectors nohead lw 3 lc rgb "#555555" notitle
