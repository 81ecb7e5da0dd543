/** The smallest useful actor: `acme:demo/echo.echo` returns what it is given. */
export const echo = {
  echo(msg: string): string {
    return msg;
  },
};
