// Spruce's error shape, `{statusCode, type, message}` [spec], raised anywhere in the simulator
// and turned into a response in one place (the API pipeline's error handler).

export type ApiErrorType =
  | 'BAD_PARAMETER'
  | 'NOT_DELETABLE'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'DUPLICATE_REQUEST'
  | 'RATE_LIMITED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NOT_IMPLEMENTED'
  | 'INTERNAL';

export interface ErrorBody {
  statusCode: number;
  type: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly type: ApiErrorType,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toBody(): ErrorBody {
    return { statusCode: this.statusCode, type: this.type, message: this.message };
  }
}

export const badParameter = (message: string) => new ApiError(400, 'BAD_PARAMETER', message);
export const notFound = (what: string) => new ApiError(404, 'NOT_FOUND', `${what} not found`);

export function errorBody(statusCode: number, type: string, message: string): ErrorBody {
  return { statusCode, type, message };
}
