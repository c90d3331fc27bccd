// Package checkers decides whether a history is valid under a consistency
// model: linearizable (Porcupine, per key), causal and causal+ (the bad
// patterns of Bouajjani et al., POPL 2017), eventual (convergence of final
// reads), and set (every acknowledged add is read). Checkers are pure
// functions of the history; they do no IO.
package checkers
