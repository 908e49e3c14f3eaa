// @peculiar/x509, loaded after the Reflect metadata polyfill its dependency tsyringe needs at
// import time: import it from here only.
import 'reflect-metadata'

export * from '@peculiar/x509'
