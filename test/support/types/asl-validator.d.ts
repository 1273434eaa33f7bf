/** Typings of asl-validator (it ships none): the validator of its README, "In your code". */
declare module 'asl-validator' {
  interface ValidationError {
    readonly 'Error code': string;
    readonly Message: string;
  }
  interface ValidationResult {
    readonly isValid: boolean;
    readonly errors: readonly ValidationError[];
    errorsText(separator?: string): string;
  }
  interface ValidationOptions {
    /** Check the JSONPath expressions (InputPath, OutputPath, ResultPath, ...). @default true */
    readonly checkPaths: boolean;
    /** Check that a Task's Resource is an ARN. @default true */
    readonly checkArn: boolean;
  }
  function aslValidator(definition: object, options?: ValidationOptions): ValidationResult;
  export = aslValidator;
}
