#include "hello.h"
int a_value(void)
{
	return 1;
}
