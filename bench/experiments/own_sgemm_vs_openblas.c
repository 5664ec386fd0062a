/* own_sgemm_vs_openblas.c — EXPERIMENT (2026-12-01, fourth session; removed again in the next
 * commit, kept in history for docs/bench.md "An own fp32 GEMM: measured, not adopted"). Times
 * src/cpu/cpu_sgemm.c (a 12 x 32 AVX-512 kernel over packed operands) against OpenBLAS's sgemm on
 * the P4 step's GEMM shapes (B = 64), alternating calls, medians of 41, and the same kernel with
 * the packing of op(B) / of both operands skipped (skip_b / skip_a: a test build only, results
 * wrong) to bound what a packed-weight cache could save. Weighted by the calls per P4 step.
 * Build: gcc -O2 -fopenmp -mavx512f -Isrc/cpu -Iinclude -I/usr/include/x86_64-linux-gnu/openblas-openmp
 *        bench/experiments/own_sgemm_vs_openblas.c src/cpu/cpu_sgemm.c (with skip_b/skip_a added)
 *        -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -lm */
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <cblas.h>
#include <time.h>
#include "cpu_backend.h"
extern int skip_b,skip_a;
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){
  /* P4 B=64 shape histogram: ta tb M N K calls */
  int shapes[][6]={{1,0,512,512,320,27},{0,1,320,512,512,27},{0,0,320,512,512,27},{1,0,512,512,64,12},{1,0,1536,512,320,12},{1,0,1024,512,320,12},{0,1,64,512,512,12},{0,1,320,1536,512,12},{0,1,320,1024,512,12},{0,0,64,512,512,12},{0,0,320,512,1536,12},{0,0,320,512,1024,12},{1,0,512,2048,320,9},{1,0,2048,512,320,9},{0,1,320,512,2048,9},{0,1,320,2048,512,9},{0,0,320,512,2048,9},{0,0,320,2048,512,9},{0,1,64,512,2048,3},{0,0,64,2048,512,3},{1,0,2048,512,64,3}};
  int ns=sizeof shapes/sizeof shapes[0];
  float *A=malloc(4*2048*2048),*B=malloc(4*2048*2048),*C=malloc(4*2048*2048);
  for(int i=0;i<2048*2048;i++){A[i]=(rand()/(float)RAND_MAX)-0.5f;B[i]=(rand()/(float)RAND_MAX)-0.5f;}
  float *ws=aligned_alloc(64,64<<20);
  double To=0,Tl=0,Tb=0,Tab=0;
  for(int s=0;s<ns;s++){int ta=shapes[s][0],tb=shapes[s][1],M=shapes[s][2],N=shapes[s][3],K=shapes[s][4];
    int lda=ta?M:K, ldb=tb?K:N; enum{R=41}; double to[R],tl[R],tb_[R],tab[R];
    for(int r=0;r<R;r++){double t0=now();cblas_sgemm(CblasRowMajor,ta?CblasTrans:CblasNoTrans,tb?CblasTrans:CblasNoTrans,M,N,K,1,A,lda,B,ldb,0,C,N);
      double t1=now();cpu_sgemm(ta,tb,M,N,K,1,A,lda,B,ldb,0,C,N,ws);double t2=now();skip_b=1;cpu_sgemm(ta,tb,M,N,K,1,A,lda,B,ldb,0,C,N,ws);double t3=now();skip_a=1;cpu_sgemm(ta,tb,M,N,K,1,A,lda,B,ldb,0,C,N,ws);double t4=now();skip_a=skip_b=0;to[r]=t1-t0;tl[r]=t2-t1;tb_[r]=t3-t2;tab[r]=t4-t3;}
    qsort(to,R,8,cmp);qsort(tb_,R,8,cmp);qsort(tab,R,8,cmp);qsort(tl,R,8,cmp);
    double f=2.0*M*N*K/1e9; To+=to[R/2]*shapes[s][5]; Tl+=tl[R/2]*shapes[s][5];Tb+=tb_[R/2]*shapes[s][5];Tab+=tab[R/2]*shapes[s][5];
    printf("%d %d %5d %5d %5d  openblas %6.1f  lvt %6.1f noB %6.1f noAB %6.1f GF/s\n",ta,tb,M,N,K,f/to[R/2],f/tl[R/2],f/tb_[R/2],f/tab[R/2]);
  }
  printf("P4-weighted GEMM time: openblas %.1f lvt %.1f noB %.1f noAB %.1f ms\n",To*1e3,Tl*1e3,Tb*1e3,Tab*1e3);
}
