#include "textflag.h"

// func spin(n int): SUBS and BNE, n times.
TEXT ·spin(SB),NOSPLIT,$0-8
	MOVD	n+0(FP), R0
loop:
	SUBS	$1, R0, R0
	BNE	loop
	RET
