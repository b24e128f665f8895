// The Express major this jest project runs on (jest.config.js), for helpers that spawn processes of their own.
process.env.EXPRESS_OAUTH_LOGIN_TEST_EXPRESS = '5';
