#include <stdio.h>
#include "hello.h"
int main(void)
{
	printf("hello %d\n", a_value() + b_value());
	return 0;
}
