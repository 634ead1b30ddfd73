/* contrib/hello: the tiny C project the engine examples build. */
int a_value(void);
int b_value(void);
