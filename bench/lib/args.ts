// The few command-line options the standalone benchmark scripts take: `--name value` and flags.

export interface ScriptArgs {
  /** The value after `--name`, if given. */
  option(name: string): string | undefined;
  /** Whether `--name` is present. */
  flag(name: string): boolean;
  /** Everything given, to repeat in a report's command line. */
  all: string[];
}

export function scriptArgs(argv: string[] = process.argv.slice(2)): ScriptArgs {
  return {
    option(name) {
      const i = argv.indexOf(name);
      return i >= 0 ? argv[i + 1] : undefined;
    },
    flag: (name) => argv.includes(name),
    all: argv,
  };
}
