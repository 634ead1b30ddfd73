#include "hello.h"
int b_value(void)
{
	return 2;
}
