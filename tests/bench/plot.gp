# gnuplot -c plot.gp ratios.dat out.svg
# ratios.dat: one line per scenario: name ratio target
set terminal svg size 1000,520 dynamic font "sans,12"
set output ARG2
set title "wsbox / reference peer (lower is better; bar above its target = miss)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set logscale y 2
set grid ytics
set ylabel "ratio (log scale)"
set xtics rotate by -25 noenhanced
set key top left
plot ARG1 using 2:xtic(1) title "wsbox / peer" lc rgb "#3b6ea5", \
     ''   using 3 title "target" lc rgb "#bbbbbb"
